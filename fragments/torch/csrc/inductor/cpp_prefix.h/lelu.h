// For lelu_opmath and lelu_backward_opmath: the element functions of the
// lelu CPU kernel (header-only)
#include <ATen/native/cpu/LeluVec.h>

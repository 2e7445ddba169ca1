    def lelu(self, x: T) -> T:
        raise NotImplementedError

    def lelu_backward(self, grad: T, x: T) -> T:
        raise NotImplementedError

LELUOptions::LELUOptions(bool inplace) : inplace_(inplace) {}

    "lelu",
    "lelu_",

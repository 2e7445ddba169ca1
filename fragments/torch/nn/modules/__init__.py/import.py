    LELU,

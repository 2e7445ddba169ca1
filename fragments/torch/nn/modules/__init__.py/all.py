    "LELU",

    "lelu",

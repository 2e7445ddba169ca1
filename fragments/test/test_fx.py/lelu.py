        "lelu": CONTROL_FLOW,

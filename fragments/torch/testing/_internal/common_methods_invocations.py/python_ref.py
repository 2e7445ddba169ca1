    ElementwiseUnaryPythonRefInfo(
        "_refs.nn.functional.lelu",
        torch_opinfo_name="nn.functional.lelu",
        supports_out=True,
    ),

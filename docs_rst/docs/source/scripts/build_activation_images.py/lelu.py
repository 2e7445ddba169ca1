    torch.nn.LELU(),

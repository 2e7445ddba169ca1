lelu_ = _make_inplace(lelu)

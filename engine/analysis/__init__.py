"""Reading a scored workspace: the 2-D map of the audio embeddings (`mapping`) and the validation of every
label-free score against references (`validate`)."""

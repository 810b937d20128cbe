"""The LSTM decoder: Keras models for training, the same weights as numpy arrays stepped one word at a time for captioning, and the searches (greedy, beam) over it."""

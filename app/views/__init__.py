"""customtkinter frames that only draw and raise <<VirtualEvents>>; they never import TensorFlow or ml."""

"""Model packaging: flavors, signatures, ONNX export."""

"""Model: which model, resolved once (zoo specs, frameworks, bundle, weights, ONNX loading,
synthesised and user inputs, checks).
"""

"""Quality: accuracy and agreement on the model's data (parity, task accuracy, labelled data)."""

"""Small DNN training runs (datasets, models, pruning-while-training) behind the traces."""

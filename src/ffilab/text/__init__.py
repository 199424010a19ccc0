"""Text workloads: the real corpus generator (``corpus``) and the streaming tokenize pipeline (``pipeline``).

The tokenizer itself is the kernel ``tokenize_batch`` of every route (contract in ``ffilab.contract``).
"""

"""The attribution methods behind :mod:`loopml.serving.explain`, one module each.

``linear`` (exact, from coefficients), ``tree`` (exact interventional Tree SHAP through the
optional ``shap`` package) and ``sampling`` (model-agnostic Shapley values in numpy: exact
enumeration for few features, antithetic permutation sampling otherwise). ``outputs`` decides
which output of a model is explained and how the model is called; ``base`` holds what they share.
"""

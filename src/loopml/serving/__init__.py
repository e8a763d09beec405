"""The prediction service: JSON and Open Inference Protocol v2 over one micro-batcher.

``loopml serve name@champion`` builds the app with :func:`loopml.serving.app.create_app`.
"""

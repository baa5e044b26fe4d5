"""The SageMaker gateway's Lambda code (``handler.py`` and its siblings), shipped in the wheel
and zipped as is, the modules side by side.

It imports nothing from inferstack: the Lambda runtime's Python and boto3 are all it needs.
"""

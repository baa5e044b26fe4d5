"""The SageMaker gateway's Lambda code (``handler.py``), shipped in the wheel and zipped as is.

It imports nothing from inferstack: the Lambda runtime's Python and boto3 are all it needs.
"""

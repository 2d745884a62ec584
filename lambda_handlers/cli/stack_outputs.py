"""Where the run commands find the deployed workflow: the app's stack name and the stack's
output that names its state machine (``app.py``, ``constructs_lib/stack.py``). A module of its
own so the parsers need none of the libraries the commands load."""

DEFAULT_STACK = "BedrockCustomization"
"""The app's stack name (``app.py``: context ``stackName``, default ``BedrockCustomization``)."""
STATE_MACHINE_OUTPUT = "StateMachineArn"
"""The stack's CfnOutput that names its state machine (``constructs_lib/stack.py``)."""

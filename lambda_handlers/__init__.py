"""Lambda handlers of the customization workflow and the pure logic they call.

Each handler module is thin: it parses the event, calls pure functions from
``lambda_handlers.common`` and makes one kind of AWS call. The pure modules import
without AWS credentials, so tests and the CLI use them directly.
"""

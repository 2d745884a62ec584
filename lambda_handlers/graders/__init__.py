"""Lambda graders (reward functions) for Bedrock reinforcement fine-tuning.

Bedrock calls the grader Lambda named in ``rftConfig.graderConfig.lambdaGrader.lambdaArn``
with a batch of samples, each the training record plus the response the model generated,
and trains on the scores it returns. ``contract`` holds that request/response contract,
applied the same way by every grader; each other module is one grader with a thin
``handler(event, context)`` over a pure function:

- ``reference_match``: the final answer equals the reference (text or number).
- ``format_check``: the response is JSON, optionally matching a JSON Schema.
- ``preference``: closer to the chosen than to the rejected answer of a preference pair.
- ``judge``: a Bedrock model scores the response against a rubric (the only one that
  calls AWS).
"""

"""Print the JSON Schema of the customization request (``schemas/customization-request.v1.json``).

python -m lambda_handlers.common.schema > schemas/customization-request.v1.json
"""

from __future__ import annotations

import json

from lambda_handlers.common.request import CustomizationRequest

if __name__ == "__main__":
    print(json.dumps(CustomizationRequest.model_json_schema(), indent=2))

"""Pure logic shared by the handlers: request document, plan, catalogue, errors."""

"""The request shapes of the APIs beside chat: what each body must hold (a 400 naming the
field when it does not), and what the classifier reads of it. Pure: a body in, a check or a
chat-shaped view out. validate.py and classify/features.py dispatch here by endpoint."""

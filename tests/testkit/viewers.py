"""What viewers would be sent, for tests of the ingest path."""


class Sink:
    """An ingestor's ``publish``: keeps every message sent to viewers."""

    def __init__(self):
        self.messages = []

    def __call__(self, sandbox_id, message):
        self.messages.append(message)
        return True

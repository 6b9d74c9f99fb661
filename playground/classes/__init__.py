"""Teaching a class (docs/classes.md): classes and join codes, the teacher's live class
board, the read-only look at a student's sandbox and one request sent to every student.
Who may see what is decided in sandboxes/ownership.py; the models are
class_models.py."""

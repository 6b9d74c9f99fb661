"""Helpers shared by every test package. Import them by name (``from testkit.waiting
import wait_until``); never ``from conftest import``: two conftest modules share that
name, so which one it finds depends on the order pytest collected them."""

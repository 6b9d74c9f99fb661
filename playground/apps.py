from django.apps import AppConfig


class PlaygroundConfig(AppConfig):
    name = "playground"
    verbose_name = "HenaServer Playground"
    # Nothing is started here on purpose: ready() also runs in the autoreloader's parent
    # process and in every management command. See sandboxes/runtime.supervisor().

from django.contrib import admin

from .models import Sandbox


@admin.register(Sandbox)
class SandboxAdmin(admin.ModelAdmin):
    list_display = ("name", "port", "status", "user", "owner_token", "requests", "created_at")
    list_filter = ("status",)
    readonly_fields = ("pid", "exit_code", "stderr_tail", "started_at", "stopped_at")

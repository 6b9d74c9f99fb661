"""Staff see every sandbox, whoever owns it, and can stop any (docs/deploy.md)."""

from django.contrib import admin, messages

from . import sandboxes
from .models import Sandbox

STOPPED_BY_STAFF = "stopped by a teacher (staff) from the admin"


@admin.register(Sandbox)
class SandboxAdmin(admin.ModelAdmin):
    list_display = ("name", "port", "status", "user", "owner_token", "pid", "requests",
                    "created_at")
    list_filter = ("status",)
    search_fields = ("name", "user__username", "port")
    readonly_fields = ("pid", "exit_code", "stderr_tail", "started_at", "stopped_at")
    actions = ["stop_selected"]

    @admin.action(description="Stop selected sandboxes", permissions=["change"])
    def stop_selected(self, request, queryset):
        """Through the same path as the Stop button: in this process, or in the
        playground process that runs the sandbox (control.py)."""
        sandboxes.supervisor()  # reconcile first, as every view does
        stopped = 0
        for sandbox in queryset.filter(status__in=Sandbox.LIVE_STATUSES):
            sandboxes.stop(sandbox, STOPPED_BY_STAFF)
            stopped += 1
        self.message_user(request, f"{stopped} sandbox(es) stopped.", messages.SUCCESS)

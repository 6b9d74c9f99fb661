"""Staff see every sandbox, whoever owns it, and can stop any (docs/deploy.md).

Deleting sandboxes here (one, or the bulk "Delete selected" action) stops their servers
and removes their files too: the ``post_delete`` receiver in sandboxes/lifecycle.py does
it for every deletion, wherever it comes from. The playground processes and their
heartbeats are listed read-only (sandboxes/heartbeat.py)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_noop

from .class_models import Classroom, Membership, TeacherNotice
from .models import PlaygroundProcess, Sandbox
from .refusals import Message
from .sandboxes import lifecycle

STOPPED_BY_STAFF = gettext_noop("stopped by a teacher (staff) from the admin")


@admin.register(Sandbox)
class SandboxAdmin(admin.ModelAdmin):
    list_display = ("name", "port", "status", "user", "owner_token", "pid", "requests",
                    "created_at")
    list_filter = ("status",)
    search_fields = ("name", "user__username", "port")
    readonly_fields = ("pid", "exit_code", "stderr_tail", "started_at", "stopped_at",
                       "run_by", "claim")
    actions = ["stop_selected"]

    @admin.action(description="Stop selected sandboxes", permissions=["change"])
    def stop_selected(self, request, queryset):
        """Through the same path as the Stop button: in this process, or in the
        playground process that runs the sandbox (sandboxes/control.py)."""
        stopped = 0
        for sandbox in queryset.filter(status__in=Sandbox.LIVE_STATUSES):
            lifecycle.stop(sandbox, Message(STOPPED_BY_STAFF))
            stopped += 1
        self.message_user(request, f"{stopped} sandbox(es) stopped.", messages.SUCCESS)


@admin.register(PlaygroundProcess)
class PlaygroundProcessAdmin(admin.ModelAdmin):
    list_display = ("name", "pid", "started_at", "beat_at")
    readonly_fields = ("name", "pid", "started_at", "beat_at")

    def has_add_permission(self, request):  # rows are written by the processes only
        return False


# Classes (docs/classes.md): a teacher's class, its students, and what teachers did to
# students' sandboxes (read-only: notices are written by the playground only).
class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Classroom)
class ClassroomAdmin(admin.ModelAdmin):
    list_display = ("name", "teacher", "join_code", "created_at")
    search_fields = ("name", "join_code", "teacher__username")
    raw_id_fields = ("teacher",)
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "classroom", "joined_at")
    list_filter = ("classroom",)
    search_fields = ("user__username", "classroom__name", "classroom__join_code")
    raw_id_fields = ("user", "classroom")


@admin.register(TeacherNotice)
class TeacherNoticeAdmin(admin.ModelAdmin):
    list_display = ("sandbox", "teacher_name", "action", "at")
    list_filter = ("action",)
    search_fields = ("teacher_name", "sandbox__name", "sandbox__user__username")
    readonly_fields = ("sandbox", "teacher", "teacher_name", "action", "at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

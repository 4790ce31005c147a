from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    FINANCE = "finance", "Finance"
    ENGINEER = "engineer", "Engineer"


class KeyholdUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """A person who signs in; their role is global, their teams scope what they see."""

    role = models.CharField(max_length=16, choices=Role, default=Role.ENGINEER)
    teams = models.ManyToManyField(
        "Team", through="Membership", related_name="members", blank=True
    )

    objects = KeyholdUserManager()

    class Meta:
        ordering = ["username"]

    @property
    def is_admin(self) -> bool:
        return self.is_superuser or self.role == Role.ADMIN

    @property
    def is_finance(self) -> bool:
        return self.role == Role.FINANCE and not self.is_superuser

    @property
    def sees_everything(self) -> bool:
        """Admins and finance read every team's objects; engineers only their own."""
        return self.is_admin or self.is_finance

    @property
    def effective_role(self) -> str:
        return Role.ADMIN if self.is_superuser else self.role


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="unique_membership")
        ]

    def __str__(self):
        return f"{self.user} in {self.team}"

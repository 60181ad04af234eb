from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("home_idp", "0011_release_truth")]

    initial = False

    operations = [
        ops.CreateModel(
            name="PlatformRepoRecord",
            fields=[
                (
                    "name",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=63),
                ),
                ("repo_id", fields.CharField(max_length=64)),
                ("data_dir", fields.TextField(unique=False)),
                ("host", fields.CharField(max_length=255)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "platform_repo", "app": "home_idp", "pk_attr": "name"},
            bases=["Model"],
        ),
    ]

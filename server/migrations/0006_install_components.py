from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('home_idp', '0005_traces_spans')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Component',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('chart', fields.CharField(max_length=300)),
                ('version', fields.CharField(max_length=60)),
                ('namespace', fields.CharField(max_length=63)),
                ('status', fields.CharField(default='absent', max_length=12)),
                ('message', fields.TextField(default='', unique=False)),
                ('revision', fields.IntField(null=True)),
                ('values_digest', fields.CharField(null=True, max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'component', 'app': 'home_idp', 'pk_attr': 'name'},
            bases=['Model'],
        ),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('home_idp', '0006_install_components')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AppFile',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.ForeignKeyField('home_idp.App', source_field='app_id', db_constraint=True, to_field='id', related_name='files', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=253)),
                ('mount_path', fields.CharField(max_length=1024)),
                ('content', fields.TextField(unique=False)),
                ('size', fields.IntField()),
                ('updated_by', fields.CharField(max_length=40)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'app_file', 'app': 'home_idp', 'unique_together': (('app', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ProjectVariable',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('project', fields.ForeignKeyField('home_idp.Project', source_field='project_id', db_constraint=True, to_field='id', related_name='variables', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=253)),
                ('is_secret', fields.BooleanField()),
                ('value', fields.TextField(unique=False)),
                ('updated_by', fields.CharField(max_length=40)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'project_variable', 'app': 'home_idp', 'unique_together': (('project', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='App',
            name='shared_env',
            field=fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]

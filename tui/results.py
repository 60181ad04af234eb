"""What each of the dashboard's GraphQL operations answers, as TypedDicts mypy checks.

Each operation in `operations/*.graphql` has a handle here (`ADMIN_USERS`,
`SAVE_DOCKERFILE`, ...) that names it and carries the type of its answer:
a query's data, a mutation's success payload (typed errors raise
`ActionFailed` instead), a subscription's event. `Gateway` takes these
handles, so what a screen reads of an answer is checked against what the
operation selects. A test compares every TypedDict's keys with the fields
its operation selects, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Final, Generic, TypeAlias, TypedDict, TypeVar

__all__ = [
    "ADMIN_ADD_PROJECT_MEMBER",
    "ADMIN_APPROVE_USER",
    "ADMIN_AUDIT_EVENTS",
    "ADMIN_AUDIT_FEED",
    "ADMIN_COMPONENTS",
    "ADMIN_CREATE_ROLE",
    "ADMIN_DELETE_ROLE",
    "ADMIN_DISABLE_USER",
    "ADMIN_ENABLE_USER",
    "ADMIN_INSTALL_ALL",
    "ADMIN_INSTALL_COMPONENT",
    "ADMIN_INSTALL_PROGRESS",
    "ADMIN_PROJECTS",
    "ADMIN_PROJECT_MEMBERS",
    "ADMIN_REDELIVER_WEBHOOK",
    "ADMIN_REMOVE_PROJECT_MEMBER",
    "ADMIN_RESET_USER_PASSWORD",
    "ADMIN_ROLES",
    "ADMIN_SET_PROJECT_MEMBER_ROLE",
    "ADMIN_SET_USER_ADMIN",
    "ADMIN_UNINSTALL_COMPONENT",
    "ADMIN_USERS",
    "ADMIN_WEBHOOK_DELIVERIES",
    "APP_CONFIG",
    "APP_DETAIL",
    "APP_LOGS",
    "APP_RELEASES",
    "APP_RESOURCES",
    "BUILD_LOG",
    "CANCEL_RELEASE",
    "CREATE_APP",
    "CREATE_PROJECT",
    "DELETE_APP",
    "DELETE_APP_FILE",
    "DELETE_APP_SECRET",
    "DELETE_POD",
    "DELETE_PROJECT",
    "DELETE_PROJECT_VARIABLE",
    "DELETE_SOURCE_CREDENTIAL",
    "DEPLOY_APP",
    "DOCKERFILE_DIFF",
    "DOCKERFILE_VERSIONS",
    "LOGIN",
    "LOGOUT",
    "ME",
    "NEW_SOURCE_WEBHOOK_SECRET",
    "PROJECTS",
    "PROJECT_APPS",
    "PROJECT_VARIABLES",
    "PUT_APP_FILE",
    "REFRESH_TOKEN",
    "RELEASE_DETAIL",
    "RELEASE_EVENTS",
    "RELEASE_PLAN",
    "RETRY_RELEASE",
    "ROLLBACK",
    "SAVE_DOCKERFILE",
    "SET_APP_SECRET",
    "SET_PROJECT_VARIABLE",
    "SET_SOURCE_CREDENTIAL",
    "SIGN_UP",
    "SPANS",
    "TRACE",
    "TRACES",
    "UPDATE_APP",
    "UPDATE_APP_SHARED_ENV",
    "AdminAuditEventsData",
    "AdminComponentsData",
    "AdminProject",
    "AdminProjectMembersData",
    "AdminProjectsData",
    "AdminRolesData",
    "AdminUser",
    "AdminUsersData",
    "AdminWebhookDeliveriesData",
    "App",
    "AppConfig",
    "AppConfigData",
    "AppConfigProject",
    "AppConfigResult",
    "AppConnection",
    "AppDetail",
    "AppDetailData",
    "AppDetailProject",
    "AppDetailResult",
    "AppEdge",
    "AppFile",
    "AppLogLine",
    "AppReleases",
    "AppReleasesData",
    "AppResource",
    "AppResourcesData",
    "AppResult",
    "AuditEvent",
    "AuditEventConnection",
    "AuditEventEdge",
    "BuildLogLine",
    "Component",
    "ComponentResult",
    "CreateProjectResult",
    "DeleteAppResult",
    "DeletePodResult",
    "DeleteProjectResult",
    "DeleteRoleResult",
    "DockerfileDiffData",
    "DockerfileVersion",
    "DockerfileVersionConnection",
    "DockerfileVersionEdge",
    "DockerfileVersionSummary",
    "DockerfileVersions",
    "DockerfileVersionsData",
    "EnvEntry",
    "EnvVar",
    "InstallAllResult",
    "InstallProgress",
    "JSONValue",
    "LintFinding",
    "LiveRelease",
    "LoginResult",
    "LogoutResult",
    "Me",
    "MeData",
    "Member",
    "MemberConnection",
    "MemberEdge",
    "MemberResult",
    "Mutation",
    "MyProject",
    "MyProjectConnection",
    "MyProjectEdge",
    "Named",
    "PageInfo",
    "Policy",
    "Project",
    "ProjectApp",
    "ProjectAppsData",
    "ProjectConfigResult",
    "ProjectConnection",
    "ProjectEdge",
    "ProjectVariable",
    "ProjectVariableDetail",
    "ProjectVariablesData",
    "ProjectWithVariables",
    "ProjectsData",
    "Query",
    "RedeliverWebhookResult",
    "Release",
    "ReleaseConnection",
    "ReleaseDetail",
    "ReleaseDetailApp",
    "ReleaseDetailData",
    "ReleaseEdge",
    "ReleaseEvent",
    "ReleasePlan",
    "ReleasePlanData",
    "ReleaseResult",
    "ReleaseState",
    "ReleaseStep",
    "RemoveMemberResult",
    "Role",
    "RoleConnection",
    "RoleEdge",
    "RoleResult",
    "RollbackPayload",
    "RollbackRelease",
    "SaveDockerfileResult",
    "SecretStatus",
    "SignUpResult",
    "SignUpUser",
    "SourceCommit",
    "SourceCredentialStatus",
    "SourceWebhook",
    "SourceWebhookSecretResult",
    "Span",
    "StartedRelease",
    "Subscription",
    "Trace",
    "TraceData",
    "TraceSpan",
    "TraceSummary",
    "TraceSummaryConnection",
    "TraceSummaryEdge",
    "TracesData",
    "UpdateAppSharedEnvPayload",
    "User",
    "UserConnection",
    "UserEdge",
    "UserResult",
    "WebhookDelivery",
    "WebhookDeliveryConnection",
    "WebhookDeliveryEdge",
    "__all__",
]

JSONValue: TypeAlias = "dict[str, object] | list[object] | str | int | float | bool | None"
"""A value of the `JSON` scalar."""

Data = TypeVar("Data")


class Query(Generic[Data]):
    """A query by name; `Data` is what it answers."""

    def __init__(self, name: str) -> None:
        self.name = name


class Mutation(Generic[Data]):
    """A mutation by name; `Data` is its success payload."""

    def __init__(self, name: str) -> None:
        self.name = name


class Subscription(Generic[Data]):
    """A subscription by name; `Data` is one of its events."""

    def __init__(self, name: str) -> None:
        self.name = name


class User(TypedDict):
    username: str


class Named(TypedDict):
    name: str


class Member(TypedDict):
    id: str
    createdAt: str
    user: User
    role: Named


MemberResult = TypedDict("MemberResult", {"__typename": str, "member": Member})


class AdminUser(TypedDict):
    id: str
    username: str
    status: str
    isAdmin: bool
    createdAt: str


UserResult = TypedDict("UserResult", {"__typename": str, "user": AdminUser})


class AuditEvent(TypedDict):
    id: str
    actor: str
    action: str
    target: str
    project: str | None
    outcome: str
    detail: JSONValue
    createdAt: str
    cursor: str


class AuditEventEdge(TypedDict):
    node: AuditEvent


class AuditEventConnection(TypedDict):
    edges: list[AuditEventEdge]


class AdminAuditEventsData(TypedDict):
    auditEvents: AuditEventConnection


class Component(TypedDict):
    name: str
    description: str
    chart: str
    version: str
    namespace: str
    dependsOn: list[str]
    status: str
    message: str
    revision: int | None
    updatedAt: str | None


class AdminComponentsData(TypedDict):
    components: list[Component]


class Policy(TypedDict):
    effect: str
    resource: str
    action: str
    projectPattern: str


class Role(TypedDict):
    id: str
    name: str
    description: str
    builtin: bool
    policies: list[Policy]


RoleResult = TypedDict("RoleResult", {"__typename": str, "role": Role})

DeleteRoleResult = TypedDict("DeleteRoleResult", {"__typename": str, "deletedName": str})


InstallAllResult = TypedDict("InstallAllResult", {"__typename": str, "components": list[Component]})

ComponentResult = TypedDict("ComponentResult", {"__typename": str, "component": Component})


class InstallProgress(TypedDict):
    component: str
    status: str
    message: str
    at: str


class MemberEdge(TypedDict):
    node: Member


class MemberConnection(TypedDict):
    edges: list[MemberEdge]


class Project(TypedDict):
    id: str
    name: str
    members: MemberConnection


class AdminProjectMembersData(TypedDict):
    project: Project | None


class AdminProject(TypedDict):
    id: str
    name: str
    description: str
    createdAt: str


class ProjectEdge(TypedDict):
    node: AdminProject


class ProjectConnection(TypedDict):
    edges: list[ProjectEdge]


class AdminProjectsData(TypedDict):
    projects: ProjectConnection


class WebhookDelivery(TypedDict):
    id: str
    source: str
    event: str
    deliveryId: str
    signatureOk: bool
    outcome: str
    detail: str
    headers: JSONValue
    receivedAt: str
    processedAt: str | None
    redeliveryOf: str | None


RedeliverWebhookResult = TypedDict(
    "RedeliverWebhookResult", {"__typename": str, "delivery": WebhookDelivery}
)

RemoveMemberResult = TypedDict("RemoveMemberResult", {"__typename": str, "removedUsername": str})


class RoleEdge(TypedDict):
    node: Role


class RoleConnection(TypedDict):
    edges: list[RoleEdge]


class AdminRolesData(TypedDict):
    roles: RoleConnection


class UserEdge(TypedDict):
    node: AdminUser


class UserConnection(TypedDict):
    edges: list[UserEdge]
    totalCount: int


class AdminUsersData(TypedDict):
    users: UserConnection


class WebhookDeliveryEdge(TypedDict):
    node: WebhookDelivery


class WebhookDeliveryConnection(TypedDict):
    edges: list[WebhookDeliveryEdge]


class AdminWebhookDeliveriesData(TypedDict):
    webhookDeliveries: WebhookDeliveryConnection


class AppFile(TypedDict):
    name: str
    mountPath: str
    size: int
    content: str
    updatedBy: str
    updatedAt: str


class EnvEntry(TypedDict):
    name: str
    source: str
    isSecret: bool
    value: str | None
    overridden: bool


class ProjectVariable(TypedDict):
    name: str
    isSecret: bool


class AppConfigProject(TypedDict):
    id: str
    myRole: str | None
    variables: list[ProjectVariable]


class AppConfig(TypedDict):
    id: str
    name: str
    sharedEnv: list[str]
    files: list[AppFile]
    environment: list[EnvEntry]
    project: AppConfigProject


class AppConfigData(TypedDict):
    node: AppConfig | None


class EnvVar(TypedDict):
    name: str
    value: str


class SecretStatus(TypedDict):
    name: str
    isSet: bool
    updatedBy: str
    updatedAt: str


class SourceCredentialStatus(TypedDict):
    kind: str
    username: str | None
    updatedBy: str
    updatedAt: str


class AppDetailProject(TypedDict):
    id: str
    name: str
    myRole: str | None


class LintFinding(TypedDict):
    line: int
    code: str
    level: str
    message: str


class DockerfileVersion(TypedDict):
    id: str
    number: int
    content: str
    lintFindings: list[LintFinding]


class SourceWebhook(TypedDict):
    url: str
    secretSet: bool


class AppDetail(TypedDict):
    id: str
    name: str
    url: str | None
    sourceRepo: str
    sourceRef: str
    contextPath: str
    port: int
    replicas: int
    healthPath: str
    ingressHost: str | None
    autoDeploy: bool
    watchPaths: list[str]
    sourceError: str | None
    sourceCheckedAt: str | None
    sourceWebhook: SourceWebhook
    env: list[EnvVar]
    secrets: list[SecretStatus]
    sourceCredential: SourceCredentialStatus | None
    project: AppDetailProject
    dockerfile: DockerfileVersion | None


class AppDetailData(TypedDict):
    node: AppDetail | None


class AppLogLine(TypedDict):
    source: str
    text: str


class SourceCommit(TypedDict):
    sha: str
    author: str | None
    message: str | None
    url: str | None


class RollbackNumber(TypedDict):
    number: int


class Release(TypedDict):
    id: str
    number: int
    status: str
    trigger: str
    image: str | None
    createdBy: str
    createdAt: str
    finishedAt: str | None
    durationMs: int | None
    isLive: bool
    verifyUntil: str | None
    rolledBackBy: RollbackNumber | None
    sourceCommit: SourceCommit | None


class ReleaseEdge(TypedDict):
    node: Release


class ReleaseConnection(TypedDict):
    edges: list[ReleaseEdge]


class AppReleases(TypedDict):
    releases: ReleaseConnection
    liveRelease: LiveRelease | None


class AppReleasesData(TypedDict):
    node: AppReleases | None


class AppResource(TypedDict):
    kind: str
    name: str
    status: str
    ready: bool | None
    phase: str | None
    restarts: int | None
    release: int | None
    keys: list[str]
    createdAt: str | None


class AppResourcesData(TypedDict):
    appResources: list[AppResource]


class BuildLogLine(TypedDict):
    seq: int
    step: str
    text: str
    cursor: str


class ReleaseState(TypedDict):
    id: str
    status: str


ReleaseResult = TypedDict("ReleaseResult", {"__typename": str, "release": ReleaseState})


class App(TypedDict):
    id: str
    name: str


AppResult = TypedDict("AppResult", {"__typename": str, "app": App})


class MyProject(TypedDict):
    id: str
    name: str
    description: str
    myRole: str | None


CreateProjectResult = TypedDict("CreateProjectResult", {"__typename": str, "project": MyProject})


class StartedRelease(TypedDict):
    id: str
    number: int


AppConfigResult = TypedDict(
    "AppConfigResult",
    {"__typename": str, "app": AppConfig, "releases": list[StartedRelease]},
)


DeletePodResult = TypedDict("DeletePodResult", {"__typename": str, "deletedPod": str})
DeleteAppResult = TypedDict("DeleteAppResult", {"__typename": str, "deletedName": str})
DeleteProjectResult = TypedDict(
    "DeleteProjectResult", {"__typename": str, "deletedName": str, "deletedApps": list[str]}
)


class ProjectVariableDetail(TypedDict):
    name: str
    isSecret: bool
    value: str | None
    usedBy: list[str]
    updatedBy: str
    updatedAt: str


class ProjectWithVariables(TypedDict):
    id: str
    name: str
    myRole: str | None
    variables: list[ProjectVariableDetail]


ProjectConfigResult = TypedDict(
    "ProjectConfigResult",
    {
        "__typename": str,
        "project": ProjectWithVariables,
        "releases": list[StartedRelease],
    },
)


class DockerfileDiffData(TypedDict):
    dockerfileDiff: str


class DockerfileVersionSummary(TypedDict):
    id: str
    number: int
    author: str
    message: str
    createdAt: str


class DockerfileVersionEdge(TypedDict):
    node: DockerfileVersionSummary


class DockerfileVersionConnection(TypedDict):
    edges: list[DockerfileVersionEdge]


class DockerfileVersions(TypedDict):
    dockerfileVersions: DockerfileVersionConnection


class DockerfileVersionsData(TypedDict):
    node: DockerfileVersions | None


LoginResult = TypedDict(
    "LoginResult", {"__typename": str, "accessToken": str, "refreshToken": str, "expiresIn": int}
)

LogoutResult = TypedDict("LogoutResult", {"__typename": str})


class Me(TypedDict):
    id: str
    username: str
    status: str
    isAdmin: bool


class MeData(TypedDict):
    me: Me


class LiveRelease(TypedDict):
    status: str


class ProjectApp(TypedDict):
    id: str
    name: str
    liveRelease: LiveRelease | None


class AppEdge(TypedDict):
    node: ProjectApp


class AppConnection(TypedDict):
    edges: list[AppEdge]


class ProjectAppsData(TypedDict):
    apps: AppConnection


class ProjectVariablesData(TypedDict):
    node: ProjectWithVariables | None


class MyProjectEdge(TypedDict):
    node: MyProject


class MyProjectConnection(TypedDict):
    edges: list[MyProjectEdge]


class ProjectsData(TypedDict):
    projects: MyProjectConnection


class ReleaseDetailApp(TypedDict):
    id: str
    name: str
    project: Named


class ReleaseStep(TypedDict):
    name: str
    state: str
    attempts: int
    error: str | None
    startedAt: str | None
    finishedAt: str | None
    durationMs: int | None


class ReleaseDetail(Release):
    commitSha: str | None
    digest: str | None
    traceId: str | None
    url: str | None
    error: str | None
    app: ReleaseDetailApp
    steps: list[ReleaseStep]


class ReleaseDetailData(TypedDict):
    node: ReleaseDetail | None


class ReleaseEvent(TypedDict):
    releaseId: str
    step: str | None
    state: str
    message: str
    createdAt: str
    cursor: str


class ReleasePlan(TypedDict):
    folder: str
    diff: str
    files: list[str]


class ReleasePlanData(TypedDict):
    releasePlan: ReleasePlan


class RollbackRelease(TypedDict):
    id: str
    number: int
    status: str


RollbackPayload = TypedDict("RollbackPayload", {"__typename": str, "release": RollbackRelease})

SaveDockerfileResult = TypedDict(
    "SaveDockerfileResult",
    {"__typename": str, "dockerfileVersion": DockerfileVersion, "release": RollbackRelease},
)


class SignUpUser(TypedDict):
    username: str
    status: str


SignUpResult = TypedDict("SignUpResult", {"__typename": str, "message": str, "user": SignUpUser})


class TraceSpan(TypedDict):
    spanId: str
    parentSpanId: str | None
    name: str
    startTimeUnixNano: str
    endTimeUnixNano: str
    durationMs: float
    status: str
    statusMessage: str
    serviceName: str
    attributes: JSONValue


class Span(TraceSpan):
    cursor: str


class Trace(TypedDict):
    traceId: str
    durationMs: float
    spanCount: int
    spans: list[TraceSpan]


class TraceData(TypedDict):
    trace: Trace | None


class TraceSummary(TypedDict):
    traceId: str
    name: str
    startTime: str
    durationMs: float
    spanCount: int
    errorCount: int
    status: str
    project: str | None
    app: str | None


class TraceSummaryEdge(TypedDict):
    node: TraceSummary


class PageInfo(TypedDict):
    hasNextPage: bool
    endCursor: str | None


class TraceSummaryConnection(TypedDict):
    edges: list[TraceSummaryEdge]
    pageInfo: PageInfo


class TracesData(TypedDict):
    traces: TraceSummaryConnection


AppDetailResult = TypedDict("AppDetailResult", {"__typename": str, "app": AppDetail})

SourceWebhookSecretResult = TypedDict(
    "SourceWebhookSecretResult",
    {"__typename": str, "app": AppDetail, "secret": str, "registered": bool, "note": str},
)

UpdateAppSharedEnvPayload = TypedDict(
    "UpdateAppSharedEnvPayload", {"__typename": str, "app": AppConfig}
)

ADMIN_ADD_PROJECT_MEMBER: Final = Mutation[MemberResult]("AdminAddProjectMember")
ADMIN_APPROVE_USER: Final = Mutation[UserResult]("AdminApproveUser")
ADMIN_AUDIT_EVENTS: Final = Query[AdminAuditEventsData]("AdminAuditEvents")
ADMIN_AUDIT_FEED: Final = Subscription[AuditEvent]("AdminAuditFeed")
ADMIN_COMPONENTS: Final = Query[AdminComponentsData]("AdminComponents")
ADMIN_CREATE_ROLE: Final = Mutation[RoleResult]("AdminCreateRole")
ADMIN_DELETE_ROLE: Final = Mutation[DeleteRoleResult]("AdminDeleteRole")
ADMIN_DISABLE_USER: Final = Mutation[UserResult]("AdminDisableUser")
ADMIN_ENABLE_USER: Final = Mutation[UserResult]("AdminEnableUser")
ADMIN_INSTALL_ALL: Final = Mutation[InstallAllResult]("AdminInstallAll")
ADMIN_INSTALL_COMPONENT: Final = Mutation[ComponentResult]("AdminInstallComponent")
ADMIN_INSTALL_PROGRESS: Final = Subscription[InstallProgress]("AdminInstallProgress")
ADMIN_PROJECT_MEMBERS: Final = Query[AdminProjectMembersData]("AdminProjectMembers")
ADMIN_PROJECTS: Final = Query[AdminProjectsData]("AdminProjects")
ADMIN_REDELIVER_WEBHOOK: Final = Mutation[RedeliverWebhookResult]("AdminRedeliverWebhook")
ADMIN_REMOVE_PROJECT_MEMBER: Final = Mutation[RemoveMemberResult]("AdminRemoveProjectMember")
ADMIN_RESET_USER_PASSWORD: Final = Mutation[UserResult]("AdminResetUserPassword")
ADMIN_ROLES: Final = Query[AdminRolesData]("AdminRoles")
ADMIN_SET_PROJECT_MEMBER_ROLE: Final = Mutation[MemberResult]("AdminSetProjectMemberRole")
ADMIN_SET_USER_ADMIN: Final = Mutation[UserResult]("AdminSetUserAdmin")
ADMIN_UNINSTALL_COMPONENT: Final = Mutation[ComponentResult]("AdminUninstallComponent")
ADMIN_USERS: Final = Query[AdminUsersData]("AdminUsers")
ADMIN_WEBHOOK_DELIVERIES: Final = Query[AdminWebhookDeliveriesData]("AdminWebhookDeliveries")
APP_CONFIG: Final = Query[AppConfigData]("AppConfig")
APP_DETAIL: Final = Query[AppDetailData]("AppDetail")
APP_LOGS: Final = Subscription[AppLogLine]("AppLogs")
APP_RELEASES: Final = Query[AppReleasesData]("AppReleases")
APP_RESOURCES: Final = Query[AppResourcesData]("AppResources")
BUILD_LOG: Final = Subscription[BuildLogLine]("BuildLog")
CANCEL_RELEASE: Final = Mutation[ReleaseResult]("CancelRelease")
CREATE_APP: Final = Mutation[AppResult]("CreateApp")
CREATE_PROJECT: Final = Mutation[CreateProjectResult]("CreateProject")
DELETE_APP: Final = Mutation[DeleteAppResult]("DeleteApp")
DELETE_APP_FILE: Final = Mutation[AppConfigResult]("DeleteAppFile")
DELETE_APP_SECRET: Final = Mutation[AppDetailResult]("DeleteAppSecret")
DELETE_POD: Final = Mutation[DeletePodResult]("DeletePod")
DELETE_PROJECT: Final = Mutation[DeleteProjectResult]("DeleteProject")
DELETE_PROJECT_VARIABLE: Final = Mutation[ProjectConfigResult]("DeleteProjectVariable")
DELETE_SOURCE_CREDENTIAL: Final = Mutation[AppDetailResult]("DeleteSourceCredential")
DEPLOY_APP: Final = Mutation[RollbackPayload]("DeployApp")
DOCKERFILE_DIFF: Final = Query[DockerfileDiffData]("DockerfileDiff")
DOCKERFILE_VERSIONS: Final = Query[DockerfileVersionsData]("DockerfileVersions")
LOGIN: Final = Mutation[LoginResult]("Login")
LOGOUT: Final = Mutation[LogoutResult]("Logout")
ME: Final = Query[MeData]("Me")
NEW_SOURCE_WEBHOOK_SECRET: Final = Mutation[SourceWebhookSecretResult]("NewSourceWebhookSecret")
PROJECT_APPS: Final = Query[ProjectAppsData]("ProjectApps")
PROJECT_VARIABLES: Final = Query[ProjectVariablesData]("ProjectVariables")
PROJECTS: Final = Query[ProjectsData]("Projects")
PUT_APP_FILE: Final = Mutation[AppConfigResult]("PutAppFile")
REFRESH_TOKEN: Final = Mutation[LoginResult]("RefreshToken")
RELEASE_DETAIL: Final = Query[ReleaseDetailData]("ReleaseDetail")
RELEASE_EVENTS: Final = Subscription[ReleaseEvent]("ReleaseEvents")
RELEASE_PLAN: Final = Query[ReleasePlanData]("ReleasePlan")
RETRY_RELEASE: Final = Mutation[ReleaseResult]("RetryRelease")
ROLLBACK: Final = Mutation[RollbackPayload]("Rollback")
SAVE_DOCKERFILE: Final = Mutation[SaveDockerfileResult]("SaveDockerfile")
SET_APP_SECRET: Final = Mutation[AppDetailResult]("SetAppSecret")
SET_PROJECT_VARIABLE: Final = Mutation[ProjectConfigResult]("SetProjectVariable")
SET_SOURCE_CREDENTIAL: Final = Mutation[AppDetailResult]("SetSourceCredential")
SIGN_UP: Final = Mutation[SignUpResult]("SignUp")
SPANS: Final = Subscription[Span]("Spans")
TRACE: Final = Query[TraceData]("Trace")
TRACES: Final = Query[TracesData]("Traces")
UPDATE_APP: Final = Mutation[AppDetailResult]("UpdateApp")
UPDATE_APP_SHARED_ENV: Final = Mutation[UpdateAppSharedEnvPayload]("UpdateAppSharedEnv")

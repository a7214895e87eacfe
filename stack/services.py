"""The services of one stack process, built once from the configuration and passed around."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from roost.access_log import AccessLog
from roost.app_passwords import AppPasswords
from roost.appstore.app_runs import AppRunner
from roost.appstore.service import AppService
from roost.banks import BankService
from roost.config import Config
from roost.couch import CouchClient
from roost.doctypes import SchemaRegistry
from roost.documents import DocumentService
from roost.instances import InstanceService
from roost.jobs import JobService
from roost.login_limiter import LoginLimiter
from roost.metrics import Metrics
from roost.notifications import Notifications
from roost.oauth import OAuthService
from roost.outbox import Outbox
from roost.permission_docs import PermissionDocs
from roost.principals import Authenticator
from roost.realtime import RealtimeAuth, RealtimeHub, RealtimeLimits
from roost.replication import ReplicationService
from roost.sessions import SessionService
from roost.thumbnails import FileEvents, ThumbnailService
from roost.tokens import TokenService
from roost.vfs import VFS
from roost.vfs.blob_config import blob_store_for


@dataclass
class Services:
    config: Config
    couch: CouchClient
    instances: InstanceService
    sessions: SessionService
    permission_docs: PermissionDocs
    app_passwords: AppPasswords
    tokens: TokenService
    documents: DocumentService
    replication: ReplicationService
    oauth: OAuthService
    vfs: VFS
    authenticator: Authenticator
    login_limiter: LoginLimiter
    access_log: AccessLog
    metrics: Metrics
    jobs: JobService
    apps: AppService
    app_runs: AppRunner
    thumbnails: ThumbnailService
    realtime: RealtimeHub
    realtime_auth: RealtimeAuth
    notifications: Notifications
    banks: BankService
    outbox: Outbox
    # How often the embedded store was restarted (always 0 with an external CouchDB).
    store_restarts: Callable[[], int]

    @classmethod
    def build(cls, config: Config, couchdb_url: str) -> Services:
        couch = CouchClient(couchdb_url, timeout=config.couch_timeout_seconds)
        permission_docs = PermissionDocs(couch, config.cache_ttl_seconds)
        sessions = SessionService(couch, config.session_ttl_seconds)
        app_passwords = AppPasswords(couch, permission_docs, config.cache_ttl_seconds)
        instances = InstanceService(couch, config)
        tokens = TokenService(permission_docs)
        schemas = SchemaRegistry()
        documents = DocumentService(couch, schemas)
        vfs = VFS(
            couch,
            config.files_dir,
            cache_ttl=config.cache_ttl_seconds,
            blobs=blob_store_for(config),
        )
        access_log = AccessLog(couch)
        jobs = JobService(couch, instances, event_cache_seconds=config.cache_ttl_seconds)
        apps = AppService(config, couch, permission_docs, tokens)
        apps.attach_jobs(jobs)
        notifications = Notifications(couch)
        notifications.attach_jobs(jobs, config)
        apps.attach_notifications(notifications)
        app_runs = AppRunner(apps, documents, vfs, access_log, notifications)
        # The `app` worker exists before the runner starts: queued app jobs run at once.
        app_runs.attach_jobs(jobs)
        banks = BankService(couch, documents, jobs, notifications, instances, apps=apps)
        banks.attach_jobs()
        # Proposals leave through the apps' egress fetcher: the same address checks.
        outbox = Outbox(couch, notifications, access_log, app_runs.egress, grants=apps)
        outbox.answered.append(app_runs.tell_proposer)
        app_runs.outbox = outbox
        thumbnails = ThumbnailService(vfs, jobs)
        thumbnails.attach_jobs()
        vfs.listeners.append(FileEvents(jobs, thumbnails))
        # Credentials are re-checked twice per cache window: a revoked token's socket
        # closes within 1.5 x cache_ttl_seconds.
        realtime_limits = RealtimeLimits(revalidate_seconds=max(config.cache_ttl_seconds / 2, 0.1))
        return cls(
            config=config,
            couch=couch,
            instances=instances,
            sessions=sessions,
            permission_docs=permission_docs,
            app_passwords=app_passwords,
            tokens=tokens,
            documents=documents,
            replication=ReplicationService(couch, schemas),
            oauth=OAuthService(couch, permission_docs, tokens),
            vfs=vfs,
            authenticator=Authenticator(sessions, permission_docs, app_passwords),
            login_limiter=LoginLimiter(
                couch, config.login_max_failures, config.login_window_seconds
            ),
            access_log=access_log,
            metrics=Metrics(),
            jobs=jobs,
            apps=apps,
            app_runs=app_runs,
            thumbnails=thumbnails,
            # Its own connection pool: one longpoll per followed database.
            realtime=RealtimeHub(
                CouchClient(
                    couchdb_url,
                    timeout=config.couch_timeout_seconds,
                    max_connections=realtime_limits.followers + 16,
                ),
                vfs,
                realtime_limits,
            ),
            realtime_auth=RealtimeAuth(
                instances, Authenticator(sessions, permission_docs, app_passwords)
            ),
            notifications=notifications,
            banks=banks,
            outbox=outbox,
            store_restarts=lambda: 0,
        )

    async def aclose(self) -> None:
        await self.banks.aclose()
        await self.realtime.aclose()
        await self.realtime.couch.aclose()
        await self.jobs.aclose()
        await self.thumbnails.aclose()
        await self.access_log.aclose()
        await self.couch.aclose()

"""The console page: the Gradio Blocks layout, one tab per area, each wired to a `Console` action under
the action's name as API name. Tabs appear per role after login (`Console.whoami`)."""

from __future__ import annotations

import gradio as gr

from agent.staff.accounts import ROLES
from agent.staff.console import UPLOAD_TYPES
from ui.admin.actions import TABS, Console
from ui.admin.curated import build_curated
from ui.admin.importing import build_import_tab
from ui.admin.knowledge import build_knowledge_tab
from ui.admin.overview import build_overview_tab
from ui.admin.publishing import build_publishing_tab


def build_console(console: Console) -> gr.Blocks:
    """The console page; tabs appear per role after login."""
    settings = console.settings
    knowledge_choices = [str(p) for p in console.services.knowledge_folders()]
    with gr.Blocks(title=f"{settings.company_name} – Staff console", analytics_enabled=False) as page:
        who = gr.Markdown("", elem_id="who")
        tabs = {}
        with gr.Tabs():
            tabs["Overview"] = build_overview_tab(console)
            tabs["Knowledge"] = build_knowledge_tab(console)
            with gr.Tab("Knowledge gaps", visible=False) as tabs["Knowledge gaps"]:
                load_gaps = gr.Button("Load")
                gaps = gr.Dataframe(label="Questions the help center does not serve yet", wrap=True)
                load_gaps.click(console.gaps, None, gaps, api_name="gaps")
                build_curated(console)
            with gr.Tab("Simulations", visible=False) as tabs["Simulations"]:
                with gr.Row():
                    upload = gr.File(
                        label="Past tickets (CSV or JSONL)", file_types=list(UPLOAD_TYPES), type="filepath"
                    )
                    with gr.Column():
                        folder = gr.Dropdown(
                            knowledge_choices, value=knowledge_choices[0], label="Knowledge folder"
                        )
                        retrieval_only = gr.Checkbox(label="Retrieval only (fast: no answers generated)")
                        run = gr.Button("Run simulation", variant="primary")
                overview = gr.Markdown()
                chart = gr.BarPlot(x="figure", y="value", color="run", title="Run figures")
                with gr.Row():
                    first = gr.Dropdown([], label="Run A", allow_custom_value=True)
                    second = gr.Dropdown([], label="Run B", allow_custom_value=True)
                    refresh_runs = gr.Button("Refresh runs")
                    compare = gr.Button("Compare")
                comparison = gr.Dataframe(label="Side by side")
                compare_chart = gr.BarPlot(x="figure", y="value", color="run", title="A vs B")
                run.click(
                    console.simulate,
                    [upload, folder, retrieval_only],
                    [overview, chart, first, second],
                    api_name="simulate",
                )
                refresh_runs.click(console.runs, None, [first, second], api_name="simulation_runs")
                compare.click(
                    console.compare,
                    [first, second],
                    [comparison, compare_chart],
                    api_name="simulation_compare",
                )
            tabs["Import"] = build_import_tab(console)
            tabs["Drafts & publishing"] = build_publishing_tab(console)
            with gr.Tab("Handoff inbox", visible=False) as tabs["Handoff inbox"]:
                load_inbox = gr.Button("Load open tickets")
                inbox = gr.Dataframe(label="Open tickets", wrap=True)
                with gr.Row():
                    ticket = gr.Number(label="Ticket number", precision=0)
                    done = gr.Button("Mark done")
                done_out = gr.Markdown()
                load_inbox.click(console.inbox, None, inbox, api_name="handoff_inbox")
                done.click(console.close_ticket, [ticket], [done_out, inbox], api_name="handoff_done")
            with gr.Tab("Privacy requests", visible=False) as tabs["Privacy requests"]:
                reference = gr.Textbox(label="Reference code")
                with gr.Row():
                    find = gr.Button("Find")
                    export = gr.Button("Export (JSON)")
                    confirm = gr.Checkbox(label="I confirm the erasure")
                    erase = gr.Button("Erase", variant="stop")
                with gr.Row():
                    limit = gr.Dropdown(
                        ["restrict", "lift", "object", "unobject"], label="Restriction / objection"
                    )
                    apply_limit = gr.Button("Apply")
                with gr.Row():
                    target = gr.Radio(["message", "contact"], value="message", label="Correct")
                    number = gr.Number(label="Number (from the export)", precision=0)
                    corrected = gr.Textbox(label="Corrected text")
                    rectify = gr.Button("Correct")
                found = gr.Markdown()
                exported = gr.File(label="Export", interactive=False)
                apply_limit.click(
                    console.limit_processing, [reference, limit], found, api_name="privacy_limit"
                )
                rectify.click(
                    console.rectify, [reference, target, number, corrected], found, api_name="privacy_rectify"
                )
                find.click(console.find_subject, [reference], found, api_name="privacy_find")
                export.click(console.export_subject, [reference], exported, api_name="privacy_export")
                erase.click(console.erase_subject, [reference, confirm], found, api_name="privacy_erase")
            with gr.Tab("Records & incidents", visible=False) as tabs["Records & incidents"]:
                load_records = gr.Button("Art. 30 record, DPIA inputs, subprocessors")
                with gr.Row():
                    since = gr.Textbox(label="Incident: examine from (e.g. 2026-11-28T14:00, UTC)")
                    load_incident = gr.Button("Breach facts and draft notification (Art. 33)")
                records = gr.Markdown()
                load_records.click(console.records, None, records, api_name="privacy_records")
                load_incident.click(console.incident, [since], records, api_name="privacy_incident")
            with gr.Tab("Retention & redaction", visible=False) as tabs["Retention & redaction"]:
                load_retention = gr.Button("Retention")
                retention = gr.Markdown()
                load_redaction = gr.Button("Redaction statistics")
                redaction = gr.Dataframe(label="Personal data removed")
                load_retention.click(console.retention, None, retention, api_name="retention_view")
                load_redaction.click(console.redaction_stats, None, redaction, api_name="redaction_stats")
            with gr.Tab("Audit trail", visible=False) as tabs["Audit trail"]:
                with gr.Row():
                    load_audit = gr.Button("Load")
                    verify = gr.Button("Verify the chain")
                verified = gr.Markdown()
                audit = gr.Dataframe(label="Newest entries", wrap=True)
                load_audit.click(console.audit_log, None, audit, api_name="audit_view")
                verify.click(console.audit_verify, None, verified, api_name="audit_verify")
            with gr.Tab("Users", visible=False) as tabs["Users"]:
                load_users = gr.Button("Load")
                users = gr.Dataframe(label="Staff accounts")
                with gr.Row():
                    username = gr.Textbox(label="User name")
                    role = gr.Dropdown(list(ROLES), value=ROLES[0], label="Role")
                    password = gr.Textbox(label="Password (12+ characters)", type="password")
                with gr.Row():
                    add = gr.Button("Add")
                    remove = gr.Button("Remove")
                    reset = gr.Button("Set password")
                users_out = gr.Markdown()
                load_users.click(console.users, None, users, api_name="users_list")
                add.click(
                    console.add_user, [username, role, password], [users_out, users], api_name="users_add"
                )
                remove.click(console.remove_user, [username], [users_out, users], api_name="users_remove")
                reset.click(console.reset_password, [username, password], users_out, api_name="users_reset")
            with gr.Tab("Configuration", visible=False) as tabs["Configuration"]:
                load_config = gr.Button("Show")
                config = gr.JSON(label="Live configuration (secrets hidden)")
                load_config.click(console.configuration, None, config, api_name="config_view")
                with gr.Row():
                    backup_folder = gr.Textbox(label="Back up to (a new folder on the server)")
                    backup_passphrase = gr.Textbox(
                        label="Backup passphrase (12+ characters)", type="password"
                    )
                    backup = gr.Button("Back up now")
                backed_up = gr.Markdown()
                backup.click(
                    console.backup, [backup_folder, backup_passphrase], backed_up, api_name="backup_create"
                )
        # whoami answers in TABS order; the tabs are built in the order support leads work in
        page.load(console.whoami, None, [who, *(tabs[name] for name in TABS)], api_visibility="private")
    return page

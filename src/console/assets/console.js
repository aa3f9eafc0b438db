// The station staff console. Every page is a view of the public /v1 API,
// called with the staff member's token, which lives in this tab's
// sessionStorage only (never a cookie, never localStorage).
"use strict";

(function () {
  const TOKEN_KEY = "odr.console.token";
  const PAGE_SIZE = 20;

  // ---- Words -------------------------------------------------------------

  const STATUS = {
    routed: "已转送", delivered: "已送达", acknowledged: "已确认", negotiating: "协商中",
    settled: "已和解", escalated: "待认领", claimed: "已认领", accepted: "已受理",
    closed: "已结案", withdrawn: "已撤回", reopened: "重新打开",
  };
  const REASON = {
    not_enrolled: "未入驻", odr_declined: "消费者未同意和解", handler_suspended: "处理单位暂停",
    delivery_failed: "转送失败", declined: "处理单位拒收", negotiation_failed: "协商不成",
    consumer_rejected: "消费者异议", ack_overdue: "受理超时", resolve_overdue: "处理超时",
    consumer_requested: "消费者申请", consumer_dissatisfied: "回访不满意",
  };
  const CLOCK = {
    ack_by: "处理单位确认期限", resolve_by: "处理单位办理期限", objection_until: "消费者异议期",
    decision_by: "受理期限", initial_feedback_by: "初查反馈期限", mediation_by: "调解（结案）期限",
  };
  const CLOCK_STATE = { pending: "进行中", provisional: "暂定", met: "按时", missed: "超期" };
  const CLOSE_RESULT = {
    mediated: "调解成功", mediation_terminated: "终止调解",
    referred_for_investigation: "转立案调查", not_accepted: "不予受理",
  };
  const SATISFACTION = {
    very_satisfied: "非常满意", satisfied: "满意", neutral: "一般", dissatisfied: "不满意",
  };
  const ACTOR = {
    partner: "合作平台", handler: "处理单位", staff: "监管站工作人员", admin: "管理员", system: "系统",
  };
  const EVENT = {
    intake: "接收投诉", deliver: "送达处理单位", acknowledge: "处理单位确认", decline: "处理单位拒收",
    contact: "联系消费者", contact_disclosed: "披露联系方式", propose: "提出和解方案",
    settle: "报告已和解", fail: "协商不成", extension: "申请延期",
    consumer_accept: "消费者接受方案", consumer_reject: "消费者拒绝方案",
    consumer_object: "消费者提出异议", consumer_escalate: "消费者申请监管介入",
    withdraw: "消费者撤回", escalate: "上转监管站", escalate_handler_suspended: "上转（处理单位暂停）",
    escalate_delivery_failed: "上转（转送失败）", escalate_ack_overdue: "上转（确认超时）",
    escalate_resolve_overdue: "上转（办理超时）", claim: "认领", release: "释放",
    accept: "受理", not_accept: "不予受理", feedback: "初查反馈", close: "结案",
    reopen: "重新打开", followup: "回访", approve_extension: "批准延期",
    reject_extension: "驳回延期", extension_lapsed: "延期申请失效",
    deadline_warning: "期限提醒", deadline_missed: "期限已过", settlement_final: "和解生效",
    deadlines_recomputed: "期限重算", claim_released: "认领释放",
  };
  const PROBLEM = {
    quality: "质量", safety: "安全", food_safety: "食品安全", price: "价格", measurement: "计量",
    contract: "合同", after_sales: "售后服务", advertising: "广告", false_advertising: "虚假宣传",
    counterfeit: "假冒", trademark: "商标", certification: "认证", unfair_competition: "不正当竞争",
    personal_rights: "人身权利", dignity: "人格尊严", personal_info: "个人信息", other: "其他",
  };
  const CATEGORY = { goods: "商品", service: "服务" };
  const problem = (item) => `${CATEGORY[item.category] || item.category}·${PROBLEM[item.problem] || item.problem}`;
  const NEGOTIATION = new Set([
    "acknowledge", "contact", "contact_disclosed", "propose", "settle", "fail", "extension",
    "consumer_accept", "consumer_reject", "consumer_object", "consumer_escalate", "decline",
  ]);

  // ---- Small helpers -------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  /** An element with attributes and children (strings become text, never HTML). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const BEIJING = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });

  /** An instant in Beijing time: 2026-03-02 08:00. */
  function beijing(iso) {
    if (!iso) return "—";
    const parts = {};
    for (const p of BEIJING.formatToParts(new Date(iso))) parts[p.type] = p.value;
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
  }

  /** The Beijing month before the one `date` falls in, as YYYY-MM. */
  function previousMonth(date) {
    const parts = {};
    for (const p of BEIJING.formatToParts(date)) parts[p.type] = p.value;
    let year = Number(parts.year);
    let month = Number(parts.month) - 1;
    if (month === 0) { month = 12; year -= 1; }
    return `${year}-${String(month).padStart(2, "0")}`;
  }

  function yuan(cents) {
    if (cents === null || cents === undefined) return "—";
    const sign = cents < 0 ? "-" : "";
    const abs = Math.abs(cents);
    return `${sign}¥${Math.floor(abs / 100).toLocaleString("zh-CN")}.${String(abs % 100).padStart(2, "0")}`;
  }

  /** "123.45" yuan as 12345 cents, exactly; null when it is not an amount. */
  function cents(text) {
    const m = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(text);
    if (!m) return null;
    return Number(m[1]) * 100 + Number((m[2] || "0").padEnd(2, "0"));
  }

  const percent = (rate) => (rate === null || rate === undefined ? "—" : `${rate.toFixed(2)}%`);

  // A notice set just before a page change (signed out, session expired)
  // outlives that change once.
  let noticeSticky = false;

  function notice(text, sticky) {
    const box = $("notice");
    box.textContent = text || "";
    box.hidden = !text;
    noticeSticky = Boolean(text && sticky);
  }

  // ---- Session -------------------------------------------------------------

  let session = null; // {token, sub, station, exp}

  function claimsOf(token) {
    try {
      const body = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const json = decodeURIComponent(Array.from(atob(body), (c) =>
        "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""));
      return JSON.parse(json);
    } catch (_) {
      return null;
    }
  }

  function loadSession() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const claims = token && claimsOf(token);
    if (!claims || claims.role !== "staff" || claims.exp * 1000 <= Date.now()) {
      sessionStorage.removeItem(TOKEN_KEY);
      return null;
    }
    return { token, sub: claims.sub, station: claims.station, exp: claims.exp };
  }

  function signOut(why) {
    sessionStorage.removeItem(TOKEN_KEY);
    session = null;
    notice(why || "", true);
    location.hash = "#/login";
    render();
  }

  class ApiError extends Error {
    constructor(status, problem, headers) {
      super(problem && problem.detail ? problem.detail : `HTTP ${status}`);
      this.status = status;
      this.problem = problem || {};
      this.headers = headers;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (session) headers.Authorization = `Bearer ${session.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const type = res.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await res.json() : null;
    if (res.status === 401 && session) {
      signOut("登录已过期或账号已停用，请重新登录。");
      throw new ApiError(401, data, res.headers);
    }
    if (!res.ok) throw new ApiError(res.status, data, res.headers);
    return data;
  }

  /** What went wrong, in words a staff member can act on. */
  function explain(err) {
    if (!(err instanceof ApiError)) return `无法连接服务器：${err.message}`;
    const detail = err.problem.detail ? `（${err.problem.detail}）` : "";
    switch (err.status) {
      case 409: return `操作未完成：案件状态已经变化或该操作已办理过${detail}。请刷新后再试。`;
      case 422: {
        const fields = (err.problem.errors || []).map((e) => `${e.field}：${e.message}`);
        return `填写有误：${fields.join("；") || err.problem.detail || ""}`;
      }
      case 403: return `无权进行此操作${detail}。`;
      case 404: return "未找到，或不在本站管辖范围内。";
      case 429: return `请求过于频繁，请在 ${err.headers.get("Retry-After") || "若干"} 秒后重试。`;
      default: return `服务器暂时无法完成请求（HTTP ${err.status}）${detail}。`;
    }
  }

  // ---- Router ----------------------------------------------------------------

  function route() {
    const hash = location.hash.replace(/^#\/?/, "");
    const [name, ...rest] = hash.split("/");
    return { name: name || "queue", arg: rest.join("/") };
  }

  function show(page) {
    for (const section of document.querySelectorAll(".page")) {
      section.hidden = section.id !== `page-${page}`;
    }
    const signedIn = Boolean(session);
    $("nav").hidden = !signedIn;
    $("who").hidden = !signedIn;
    $("sign-out").hidden = !signedIn;
    if (signedIn) $("who").textContent = `工作人员 · ${session.station}`;
    for (const link of document.querySelectorAll("#nav a")) {
      link.classList.toggle("current", link.dataset.page === page ||
        (page === "case" && link.dataset.page === "queue"));
    }
  }

  function render() {
    session = session || loadSession();
    const { name, arg } = route();
    if (!session) {
      show("login");
      $("login-username").focus();
      return;
    }
    switch (name) {
      case "case": show("case"); loadCase(decodeURIComponent(arg)); break;
      case "followups": show("followups"); loadFollowups(true); break;
      case "report": show("report"); loadReport(); break;
      case "login": location.hash = "#/queue"; break;
      default: show("queue"); loadQueue(); loadExtensions(); break;
    }
  }

  // ---- Sign in -------------------------------------------------------------

  async function signIn(event) {
    event.preventDefault();
    const error = $("login-error");
    error.hidden = true;
    const username = $("login-username").value.trim();
    const password = $("login-password").value;
    if (!username || !password) {
      error.textContent = "请输入用户名和密码。";
      error.hidden = false;
      return;
    }
    $("login-submit").disabled = true;
    try {
      const answer = await api("POST", "/v1/auth/login", { username, password });
      const claims = claimsOf(answer.access_token);
      if (!claims || claims.role !== "staff") {
        error.textContent = "该账号不是监管站工作人员账号，不能登录工作台。";
        error.hidden = false;
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, answer.access_token);
      session = loadSession();
      $("login-password").value = "";
      notice("");
      location.hash = "#/queue";
      render();
    } catch (err) {
      error.textContent = err instanceof ApiError && err.status === 401
        ? "用户名或密码错误，或账号已停用。"
        : err instanceof ApiError && err.status === 429
          ? `登录尝试过多，请在 ${err.headers.get("Retry-After") || "若干"} 秒后重试。`
          : explain(err);
      error.hidden = false;
    } finally {
      $("login-submit").disabled = false;
    }
  }

  // ---- Queue ---------------------------------------------------------------

  const queue = { cursors: [null], page: 0, filters: {} };

  function queueFilters() {
    return {
      status: $("filter-status").value,
      reason: $("filter-reason").value,
      overdue: $("filter-overdue").value,
    };
  }

  async function loadQueue() {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    for (const [key, value] of Object.entries(queue.filters)) if (value) params.set(key, value);
    const cursor = queue.cursors[queue.page];
    if (cursor) params.set("cursor", cursor);
    const body = $("queue-table").tBodies[0];
    try {
      const page = await api("GET", `/v1/queue?${params}`);
      body.replaceChildren(...page.items.map(queueRow));
      $("queue-empty").hidden = page.items.length > 0;
      queue.cursors[queue.page + 1] = page.next_cursor;
      $("queue-next").disabled = !page.next_cursor;
      $("queue-prev").disabled = queue.page === 0;
    } catch (err) {
      if (err.status !== 401) notice(explain(err));
    }
  }

  /** The handlers' undecided extension requests in the subtree, each with
   *  approve and reject (SPEC §5: staff decide them). */
  async function loadExtensions() {
    try {
      const page = await api("GET", "/v1/extensions?status=pending&limit=50");
      $("extension-list").replaceChildren(...page.items.map(extensionRow));
      $("extensions").hidden = page.items.length === 0;
    } catch (err) {
      if (err.status !== 401) notice(explain(err));
    }
  }

  function extensionRow(ext) {
    const note = el("input", { id: `ext-note-${ext.id}`, maxlength: "2000" });
    const error = el("p", { class: "error", role: "alert", hidden: true });
    const path = `/v1/extensions/${encodeURIComponent(ext.id)}`;
    const decide = async (verb, done) => {
      error.hidden = true;
      try {
        await api("POST", `${path}/${verb}`, { note: note.value.trim() || undefined });
        notice(done);
        loadExtensions();
      } catch (err) {
        if (err.status === 401) return;
        error.textContent = explain(err);
        error.hidden = false;
      }
    };
    return el("div", { class: "followup", "data-id": ext.id },
      el("div", {}, `处理单位申请延期 ${ext.working_days} 个工作日（${beijing(ext.requested_at)}）：${ext.reason} · 案件 ${ext.complaint_id}`),
      el("div", { class: "filters" },
        el("label", {}, "审批意见", note),
        el("button", { type: "button", id: `ext-approve-${ext.id}`, onclick: () => decide("approve", "已批准延期。") }, "批准延期"),
        el("button", { type: "button", class: "danger", id: `ext-reject-${ext.id}`, onclick: () => decide("reject", "已驳回延期。") }, "驳回延期")),
      error);
  }

  function claimant(item) {
    if (!item.assignee_id) return "—";
    return item.assignee_id === session.sub ? "我" : `其他工作人员（${item.assignee_id.slice(-6)}）`;
  }

  function queueRow(item) {
    const open = () => { location.hash = `#/case/${encodeURIComponent(item.id)}`; };
    const deadline = item.station_deadline;
    return el("tr", {
      class: `row-link${item.overdue ? " overdue" : ""}`,
      "data-id": item.id,
      onclick: open,
    },
    el("td", {}, beijing(item.escalated_at)),
    el("td", {}, item.merchant.name || "—"),
    el("td", {}, el("a", { href: `#/case/${encodeURIComponent(item.id)}` }, problem(item))),
    el("td", {}, REASON[item.escalation_reason] || item.escalation_reason || "—"),
    el("td", {}, el("span", { class: "badge" }, STATUS[item.status] || item.status),
      item.overdue ? [" ", el("span", { class: "badge overdue" }, "超期")] : null),
    el("td", {}, claimant(item)),
    el("td", {}, deadline
      ? `${CLOCK[deadline.name] || deadline.name} ${beijing(deadline.due)}`
      : "—"));
  }

  // ---- A case ----------------------------------------------------------------

  async function all(path) {
    const items = [];
    let cursor = null;
    for (let i = 0; i < 20; i += 1) {
      const sep = path.includes("?") ? "&" : "?";
      const page = await api("GET", `${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      items.push(...page.items);
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    return items;
  }

  async function loadCase(id) {
    $("action-error").hidden = true;
    // Nothing of the case shown before stays on screen (or clickable)
    // while this one loads.
    if ($("case-title").dataset.id !== id) {
      $("case-title").dataset.id = id;
      $("case-title").textContent = "案件详情";
      for (const part of ["case-summary", "actions", "timeline", "negotiation"]) $(part).replaceChildren();
      $("deadlines").tBodies[0].replaceChildren();
    }
    try {
      const [item, events] = await Promise.all([
        api("GET", `/v1/queue/${encodeURIComponent(id)}`),
        all(`/v1/complaints/${encodeURIComponent(id)}/events`),
      ]);
      drawCase(item, events);
    } catch (err) {
      if (err.status !== 401) notice(explain(err));
    }
  }

  function facts(pairs) {
    return el("dl", { class: "facts" }, pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  }

  function drawCase(item, events) {
    $("case-title").textContent = `案件 ${item.id}`;
    const outcome = item.outcome || {};
    $("case-summary").replaceChildren(
      el("h2", {}, "投诉信息"),
      facts([
        ["状态", [el("span", { class: "badge", id: "case-status" }, STATUS[item.status] || item.status),
          item.overdue ? [" ", el("span", { class: "badge overdue" }, "超期")] : null]],
        ["上转原因", REASON[item.escalation_reason] || "—"],
        ["进入队列", beijing(item.escalated_at)],
        ["所属站", item.station_code],
        ["认领人", claimant(item)],
        ["消费者", `${item.consumer.name}${item.consumer.phone ? `（${item.consumer.phone}）` : ""}`],
        ["商家", `${item.merchant.name || "—"}（${item.merchant.credit_code}）`],
        ["投诉问题", problem(item)],
        ["问题描述", item.description],
        ["诉求", item.demand],
        ["涉案金额", yuan(item.amount_cents)],
        ["转送时间", beijing(item.dispatched_at)],
        ["结果", outcome.result ? `${CLOSE_RESULT[outcome.result] || outcome.result}${outcome.recovered_cents ? `，挽回 ${yuan(outcome.recovered_cents)}` : ""}` : "—"],
      ]));
    drawDeadlines(item.deadlines || {});
    drawEvents(events);
    drawActions(item, events);
  }

  function drawDeadlines(deadlines) {
    const rows = Object.entries(deadlines).map(([clock, d]) => el("tr", {},
      el("td", {}, CLOCK[clock] || clock),
      el("td", {}, beijing(d.due)),
      el("td", {}, el("span", { class: `badge ${d.state === "missed" ? "overdue" : d.state}` },
        CLOCK_STATE[d.state] || d.state))));
    $("deadlines").tBodies[0].replaceChildren(...rows);
  }

  function eventDetail(payload) {
    if (!payload || typeof payload !== "object") return "";
    const parts = [];
    const words = {
      note: "说明", grounds: "理由", reason: "原因", comment: "消费者意见", remedy: "方式",
      working_days: "工作日", closing_note: "结案说明",
    };
    for (const [key, label] of Object.entries(words)) {
      if (payload[key] !== undefined && payload[key] !== null && payload[key] !== "") {
        parts.push(`${label}：${payload[key]}`);
      }
    }
    if (payload.result) parts.push(`结果：${CLOSE_RESULT[payload.result] || payload.result}`);
    if (payload.satisfaction) parts.push(`满意度：${SATISFACTION[payload.satisfaction] || payload.satisfaction}`);
    for (const key of ["amount_cents", "recovered_cents"]) {
      if (typeof payload[key] === "number") parts.push(`金额：${yuan(payload[key])}`);
    }
    return parts.join("；");
  }

  function drawEvents(events) {
    const items = events.map((e) => el("li", { "data-kind": e.kind },
      el("div", {}, el("strong", {}, EVENT[e.kind] || e.kind),
        e.from_status !== e.to_status && e.to_status
          ? ` · ${STATUS[e.from_status] || "—"} → ${STATUS[e.to_status] || e.to_status}` : ""),
      el("div", { class: "when" }, `${beijing(e.at)} · ${ACTOR[e.actor.kind] || e.actor.kind}${e.actor.id ? `（${e.actor.id.slice(-6)}）` : ""}`),
      el("div", { class: "detail" }, eventDetail(e.payload))));
    $("timeline").replaceChildren(...items);
    const negotiation = events.filter((e) => NEGOTIATION.has(e.kind)).map((e) => el("li", {},
      el("strong", {}, EVENT[e.kind] || e.kind), ` ${beijing(e.at)} `, eventDetail(e.payload)));
    $("negotiation").replaceChildren(...(negotiation.length ? negotiation
      : [el("li", { class: "empty" }, "没有与处理单位协商的记录。")]));
  }

  /** Runs a station step and redraws the case; a refusal is shown in words. */
  async function step(id, path, body, done) {
    const error = $("action-error");
    error.hidden = true;
    for (const b of document.querySelectorAll("#actions button")) b.disabled = true;
    try {
      await api("POST", path, body);
      notice(done);
      await loadCase(id);
    } catch (err) {
      if (err.status === 401) return;
      // The case moved on under us: show it as it stands now, with the reason.
      if (err.status === 409) await loadCase(id);
      error.textContent = explain(err);
      error.hidden = false;
      error.scrollIntoView({ block: "nearest" });
      for (const b of document.querySelectorAll("#actions button")) b.disabled = false;
    }
  }

  function drawActions(item, events) {
    const id = item.id;
    const base = `/v1/queue/${encodeURIComponent(id)}`;
    const mine = item.assignee_id === session.sub;
    const above = item.station_code !== session.station;
    const hasFeedback = events.some((e) => e.kind === "feedback");
    const blocks = [];

    if ((item.status === "escalated" || item.status === "reopened") && !item.assignee_id) {
      blocks.push(el("div", { class: "action" },
        el("button", { type: "button", id: "act-claim", onclick: () => step(id, `${base}/claim`, {}, "已认领该案件。") }, "认领")));
    }
    if (item.status === "claimed" && mine) {
      const grounds = el("textarea", { id: "act-grounds", maxlength: "2000" });
      blocks.push(el("div", { class: "action" },
        el("div", { class: "buttons" },
          el("button", { type: "button", id: "act-accept", onclick: () => step(id, `${base}/decision`, { accept: true }, "已受理。") }, "受理"))));
      blocks.push(el("div", { class: "action" },
        el("label", {}, "不予受理的理由", grounds),
        el("button", {
          type: "button", id: "act-not-accept", class: "danger",
          onclick: () => {
            if (!grounds.value.trim()) {
              $("action-error").textContent = "不予受理须填写理由。";
              $("action-error").hidden = false;
              return;
            }
            step(id, `${base}/decision`, { accept: false, grounds: grounds.value.trim() }, "已决定不予受理。");
          },
        }, "不予受理")));
    }
    if (item.status === "claimed" && (mine || above)) {
      blocks.push(el("div", { class: "action" },
        el("button", { type: "button", id: "act-release", class: "secondary", onclick: () => step(id, `${base}/release`, {}, "已释放，案件回到待认领。") },
          mine ? "释放" : "释放（上级站）")));
    }
    if (item.status === "accepted" && mine) {
      if (!hasFeedback) {
        const note = el("textarea", { id: "act-feedback-note", maxlength: "2000" });
        blocks.push(el("div", { class: "action" },
          el("label", {}, "初查反馈", note),
          el("button", { type: "button", id: "act-feedback", onclick: () => step(id, `${base}/feedback`, { kind: "initial", note: note.value.trim() }, "已提交初查反馈。") }, "提交初查反馈")));
      }
      const result = el("select", { id: "act-close-result" },
        ["mediated", "mediation_terminated", "referred_for_investigation"].map((r) =>
          el("option", { value: r }, CLOSE_RESULT[r])));
      const amount = el("input", { id: "act-close-amount", inputmode: "decimal", placeholder: "0.00" });
      const note = el("textarea", { id: "act-close-note", maxlength: "2000" });
      blocks.push(el("div", { class: "action" },
        el("label", {}, "结案结果", result),
        el("label", {}, "挽回经济损失（元）", amount),
        el("label", {}, "结案说明（结案反馈）", note),
        el("button", {
          type: "button", id: "act-close",
          onclick: () => {
            const body = { result: result.value, note: note.value.trim() };
            if (amount.value.trim()) {
              const value = cents(amount.value);
              if (value === null) {
                $("action-error").textContent = "挽回经济损失请填写金额，如 120.50。";
                $("action-error").hidden = false;
                return;
              }
              body.recovered_cents = value;
            }
            step(id, `${base}/close`, body, "已结案。");
          },
        }, "结案")));
    }
    $("actions").replaceChildren(...(blocks.length ? blocks
      : [el("p", { class: "empty", id: "no-actions" }, "当前没有需要您办理的事项。")]));
  }

  // ---- Follow-ups --------------------------------------------------------------

  const followups = { cursor: null };

  async function loadFollowups(fresh) {
    const month = $("followup-month");
    if (!month.value) month.value = previousMonth(new Date());
    if (fresh) followups.cursor = null;
    const params = new URLSearchParams({ month: month.value, limit: String(PAGE_SIZE) });
    if ($("followup-status").value) params.set("status", $("followup-status").value);
    if (followups.cursor) params.set("cursor", followups.cursor);
    try {
      const page = await api("GET", `/v1/followups?${params}`);
      const cards = page.items.map(followupCard);
      if (fresh) $("followup-list").replaceChildren(...cards);
      else $("followup-list").append(...cards);
      $("followup-empty").hidden = $("followup-list").children.length > 0;
      followups.cursor = page.next_cursor;
      $("followup-more").hidden = !page.next_cursor;
    } catch (err) {
      if (err.status !== 401) notice(explain(err));
    }
  }

  function followupCard(f) {
    const c = f.complaint || {};
    const head = el("div", {},
      el("strong", {}, c.problem ? problem(c) : f.complaint_id), " · ",
      (c.merchant && c.merchant.name) || "—", " · ",
      c.consumer ? `${c.consumer.name}${c.consumer.phone ? `（${c.consumer.phone}）` : ""}` : "",
      " · ", el("a", { href: `#/case/${encodeURIComponent(f.complaint_id)}` }, "查看案件"));
    if (f.status === "answered") {
      return el("div", { class: "followup", "data-id": f.id }, head,
        el("p", {}, el("span", { class: "badge met" }, "已回访"), ` ${SATISFACTION[f.satisfaction] || f.satisfaction}`,
          f.note ? `：${f.note}` : "", ` · ${beijing(f.answered_at)}`));
    }
    const choice = el("select", { id: `followup-satisfaction-${f.id}` },
      el("option", { value: "" }, "请选择"),
      Object.entries(SATISFACTION).map(([v, label]) => el("option", { value: v }, label)));
    const note = el("input", { id: `followup-note-${f.id}`, maxlength: "2000" });
    const warning = el("p", { class: "warning", hidden: true },
      "选择“不满意”后，该案件将重新打开，退回监管站待办队列。");
    const error = el("p", { class: "error", role: "alert", hidden: true });
    choice.addEventListener("change", () => { warning.hidden = choice.value !== "dissatisfied"; });
    const save = el("button", {
      type: "button", id: `followup-save-${f.id}`,
      onclick: async () => {
        error.hidden = true;
        if (!choice.value) {
          error.textContent = "请选择消费者的满意度。";
          error.hidden = false;
          return;
        }
        save.disabled = true;
        try {
          await api("POST", `/v1/followups/${encodeURIComponent(f.id)}`,
            { satisfaction: choice.value, note: note.value.trim() || undefined });
          notice(choice.value === "dissatisfied"
            ? "已记录“不满意”，案件已重新打开并退回待办队列。" : "已记录回访结果。");
          loadFollowups(true);
        } catch (err) {
          if (err.status === 401) return;
          error.textContent = explain(err);
          error.hidden = false;
          save.disabled = false;
        }
      },
    }, "记录回访");
    return el("div", { class: "followup", "data-id": f.id }, head,
      el("div", { class: "filters" }, el("label", {}, "满意度", choice), el("label", {}, "回访记录", note), save),
      warning, error);
  }

  // ---- Monthly report ------------------------------------------------------------

  function reportMonth() {
    const month = $("report-month");
    if (!month.value) month.value = previousMonth(new Date());
    return month.value;
  }

  async function loadReport() {
    const month = reportMonth();
    try {
      const report = await api("GET", `/v1/reports/monthly?month=${encodeURIComponent(month)}`);
      drawReport(report);
    } catch (err) {
      if (err.status !== 401) notice(explain(err));
    }
  }

  function drawReport(r) {
    $("report-body").hidden = false;
    $("report-title").textContent = `${r.station_name}（${r.station}）${r.month} 投诉处理情况`;
    const row = (name, c, total) => el("tr", { class: total ? "total" : null },
      el("td", {}, name), el("td", {}, c.received), el("td", {}, c.accepted),
      el("td", {}, c.not_accepted), el("td", {}, c.initial_feedback),
      el("td", {}, c.closing_feedback), el("td", {}, c.completed), el("td", {}, percent(c.completion_rate)));
    $("report-table").tBodies[0].replaceChildren(
      ...r.stations.map((s) => row(s.name, s)), row("合计", r.total, true));
    const rates = [
      ["按时初查率", r.rates.on_time_initial_check_rate],
      ["按期办结率", r.rates.on_time_completion_rate],
      ["调解成功率", r.rates.mediation_success_rate],
      ["满意率", r.rates.satisfaction_rate],
    ];
    $("report-rates").replaceChildren(...rates.map(([k, v]) =>
      el("div", {}, el("dt", {}, k), el("dd", {}, percent(v)))));
    $("report-overdue").textContent =
      `受理超期 ${r.overdue.decision} 件，初查反馈超期 ${r.overdue.initial_feedback} 件，结案反馈超期 ${r.overdue.closing_feedback} 件。`;
    $("report-recovered").textContent =
      `监管站调解 ${yuan(r.recovered_cents.stations)}，ODR 单位和解 ${yuan(r.recovered_cents.handlers)}，合计 ${yuan(r.recovered_cents.total)}。`;
    drawChart(r.stations);
  }

  /** Grouped bars of 接收量 and 办结量 per station, drawn as SVG. */
  function drawChart(stations) {
    const NS = "http://www.w3.org/2000/svg";
    const svg = (tag, attrs, text) => {
      const node = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      if (text !== undefined) node.textContent = text;
      return node;
    };
    const group = 110;
    const bar = 32;
    const height = 280;
    const top = 50;
    const bottom = 34;
    const left = 30;
    const width = Math.max(420, left + Math.max(stations.length, 1) * group + 20);
    const max = Math.max(1, ...stations.map((s) => Math.max(s.received, s.completed)));
    const scale = (height - top - bottom) / max;
    const chart = svg("svg", {
      viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
      "aria-label": "各单位接收量与办结量",
    });
    chart.append(svg("line", { class: "axis", x1: left, y1: height - bottom, x2: width - 10, y2: height - bottom }));
    chart.append(svg("rect", { class: "bar-received", x: left, y: 10, width: 12, height: 12 }));
    chart.append(svg("text", { x: left + 16, y: 21 }, "接收量"));
    chart.append(svg("rect", { class: "bar-completed", x: left + 80, y: 10, width: 12, height: 12 }));
    chart.append(svg("text", { x: left + 96, y: 21 }, "办结量"));
    stations.forEach((s, i) => {
      const x = left + i * group + 12;
      for (const [j, key, cls] of [[0, "received", "bar-received"], [1, "completed", "bar-completed"]]) {
        const h = s[key] * scale;
        const bx = x + j * (bar + 4);
        chart.append(svg("rect", {
          class: `bar ${cls}`, x: bx, y: height - bottom - h, width: bar, height: Math.max(h, 0),
          "data-station": s.code, "data-value": s[key],
        }));
        chart.append(svg("text", { x: bx + bar / 2, y: height - bottom - h - 4, "text-anchor": "middle" }, s[key]));
      }
      chart.append(svg("text", { x: x + bar, y: height - bottom + 18, "text-anchor": "middle" },
        s.name.length > 7 ? `${s.name.slice(0, 7)}…` : s.name));
      const title = svg("title", {}, `${s.name}：接收 ${s.received}，办结 ${s.completed}`);
      chart.lastChild.append(title);
    });
    $("report-chart").replaceChildren(chart);
  }

  /** Saves the report in `format` under the name the server gives it. */
  async function download(format) {
    const month = reportMonth();
    try {
      const res = await fetch(`/v1/reports/monthly?month=${encodeURIComponent(month)}&format=${format}`, {
        headers: { Authorization: `Bearer ${session.token}` },
      });
      if (!res.ok) {
        const type = res.headers.get("Content-Type") || "";
        throw new ApiError(res.status, type.includes("json") ? await res.json() : null, res.headers);
      }
      const disposition = res.headers.get("Content-Disposition") || "";
      const match = /filename="?([^";]+)"?/.exec(disposition);
      const name = match ? match[1] : `12315-${month}.${format}`;
      const url = URL.createObjectURL(await res.blob());
      const link = el("a", { href: url, download: name });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      notice(`已下载 ${name}`);
    } catch (err) {
      notice(explain(err));
    }
  }

  // ---- Wiring ----------------------------------------------------------------

  function init() {
    $("filter-reason").append(...Object.entries(REASON).map(([v, label]) => el("option", { value: v }, label)));
    $("login-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", () => signOut("已退出。"));
    $("queue-filters").addEventListener("submit", (e) => {
      e.preventDefault();
      queue.filters = queueFilters();
      queue.cursors = [null];
      queue.page = 0;
      loadQueue();
    });
    $("queue-next").addEventListener("click", () => { queue.page += 1; loadQueue(); });
    $("queue-prev").addEventListener("click", () => { queue.page = Math.max(0, queue.page - 1); loadQueue(); });
    $("followup-filters").addEventListener("submit", (e) => { e.preventDefault(); loadFollowups(true); });
    $("followup-more").addEventListener("click", () => loadFollowups(false));
    $("report-filters").addEventListener("submit", (e) => { e.preventDefault(); loadReport(); });
    $("download-csv").addEventListener("click", () => download("csv"));
    $("download-xlsx").addEventListener("click", () => download("xlsx"));
    window.addEventListener("hashchange", () => {
      if (!noticeSticky) notice("");
      noticeSticky = false;
      render();
    });
    render();
  }

  document.addEventListener("DOMContentLoaded", init);
})();

"""The dashboard in English, Japanese and Simplified Chinese over HTTP (the real ASGI app and
database, the hand-computed store history of tests/dashboard_history.py): every page in each language
the browser asks for, with its money and dates written that language's way; a user's own choice of
language wins over the browser's and is kept with the user; English when the browser asks for
nothing the dashboard speaks."""

from __future__ import annotations

import re

import pytest

from afterorder.clock import FrozenClock
from tests.conftest import T0
from tests.dashboard_history import PERIOD, build_history
from tests.factories import running
from tests.integration.test_dashboard import client, log_in, token, users

BROWSER = {"en": "en-US,en;q=0.9", "ja": "ja-JP,ja;q=0.9,en;q=0.5", "zh_Hans": "zh-CN,zh;q=0.9,en;q=0.5"}
HTML_LANG = {"en": "en", "ja": "ja", "zh_Hans": "zh-Hans"}

# page → per language, strings a user sees there (headings, labels, a flow's name, money, an empty state)
PAGES: dict[str, dict[str, tuple[str, ...]]] = {
    "flows": {"en": ("Flows · 雲茶舗", "Turn off", "Order confirmation", "skipped (no marketing consent): 2"),
              "ja": ("フロー · 雲茶舗", "オフにする", "注文確認", "スキップ（マーケティング配信の同意なし）：2"),
              "zh_Hans": ("流程 · 雲茶舗", "关闭", "订单确认", "已跳过（未同意接收营销信息）：2")},
    "messages": {"en": ("Messages · 雲茶舗", "By message", "¥8,000", "revenue / recipient", "days in Japan Time"),
                 "ja": ("メッセージ · 雲茶舗", "メッセージ別", "￥8,000", "受信者あたり売上", "日本時間の日付で"),
                 "zh_Hans": ("消息 · 雲茶舗", "按消息", "JP¥8,000", "每位收件人销售额", "按日本时间的日期计算")},
    "benchmarks": {"en": ("Benchmarks · 雲茶舗", "Industry:", "not set", "Delivery follow-up"),
                   "ja": ("ベンチマーク · 雲茶舗", "業種：", "未設定", "配達後フォロー"),
                   "zh_Hans": ("行业基准 · 雲茶舗", "行业：", "未设置", "送达后跟进")},
    "retention": {"en": ("Retention · 雲茶舗", "average order value (AOV)", "¥2,250", "Nov 2026"),
                  "ja": ("リテンション · 雲茶舗", "平均注文単価（AOV）", "￥2,250", "2026年11月"),
                  "zh_Hans": ("留存 · 雲茶舗", "平均订单金额（AOV）", "JP¥2,250", "2026年11月")},
    "customers?q=c1@example": {"en": ("Customers · 雲茶舗", "email", "spent"),
                               "ja": ("顧客 · 雲茶舗", "メールアドレス", "購入額"),
                               "zh_Hans": ("客户 · 雲茶舗", "电子邮件", "消费金额")},
    "customers?q=nobody-at-all": {"en": ("nobody matches nobody-at-all",),
                                  "ja": ("「nobody-at-all」に一致する顧客はいません",),
                                  "zh_Hans": ("没有与“nobody-at-all”匹配的客户",)},
    "segments": {"en": ("Segments · 雲茶舗", "Define a segment", "no segment yet"),
                 "ja": ("セグメント · 雲茶舗", "セグメントを定義", "セグメントはまだありません"),
                 "zh_Hans": ("客户分群 · 雲茶舗", "定义分群", "还没有分群")},
    "templates": {"en": ("Templates · 雲茶舗", "Email · LINE · SMS"),
                  "ja": ("テンプレート · 雲茶舗", "メール · LINE · SMS"),
                  "zh_Hans": ("模板 · 雲茶舗", "邮件 · LINE · SMS")},
    "templates/order-confirmation/ja": {"en": ("Send a test mail", "Plain text", "Edit the LINE version"),
                                        "ja": ("テストメールを送信", "テキスト版", "LINE版を編集"),
                                        "zh_Hans": ("发送测试邮件", "纯文本", "编辑LINE版本")},
    "tests": {"en": ("A/B tests · 雲茶舗", "No tests yet.", "Start a test"),
              "ja": ("A/B テスト · 雲茶舗", "テストはまだありません。", "テストを開始"),
              "zh_Hans": ("A/B 测试 · 雲茶舗", "还没有测试。", "开始测试")},
    "tests/new?step=order-confirmation:0": {"en": ("New A/B test", "Variant B: subject", "click rate"),
                                            "ja": ("新しい A/B テスト", "パターン B：件名", "クリック率"),
                                            "zh_Hans": ("新建 A/B 测试", "变体 B：主题", "点击率")},
    "customers/999999": {"en": ("Back to the dashboard", "no customer"),
                         "ja": ("ダッシュボードに戻る", "は見つかりません"),
                         "zh_Hans": ("返回仪表板", "没有客户")},
}
# the English a translated page must not show (the navigation, the language picker, the logout)
ENGLISH = ("Flows</a>", "Log out", "Change language")


def _visible(html: str) -> str:
    return re.sub(r"\s+", " ", html)


@pytest.mark.parametrize("language", ["en", "ja", "zh_Hans"])
async def test_every_page_speaks_the_browsers_language(sqlite_url: str, language: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        kumo, _ = await users(runtime)
        history = await build_history(runtime, kumo)
        async with client(runtime) as http:
            http.headers["Accept-Language"] = BROWSER[language]
            login = await http.get("/login")
            assert f'<html lang="{HTML_LANG[language]}">' in login.text
            assert {"en": "Username", "ja": "ユーザー名", "zh_Hans": "用户名"}[language] in login.text
            wrong = await log_in(http, "owner", "not the password")
            assert wrong.status_code == 401
            assert {"en": "wrong username or password", "ja": "ユーザー名またはパスワードが違います",
                    "zh_Hans": "用户名或密码错误"}[language] in wrong.text
            assert (await log_in(http, "owner")).status_code == 303
            pages = {**PAGES, f"customers/{history['customers'][1]}": {
                "en": ("Consent history", "Runs", "sent at"),
                "ja": ("同意の履歴", "実行", "送信済み"), "zh_Hans": ("同意记录", "运行记录", "已发送")}}
            for page, wanted in pages.items():
                path, _, query = page.partition("?")
                params = dict(p.split("=", 1) for p in query.split("&")) if query else {}
                if path in ("messages", "benchmarks", "retention"):
                    params |= PERIOD
                answer = await http.get(f"/dashboard/kumo/{path}", params=params)
                assert answer.status_code == (404 if path == "customers/999999" else 200), page
                text = _visible(answer.text)
                assert f'<html lang="{HTML_LANG[language]}">' in text, page
                for expected in wanted[language]:
                    assert expected in text, f"{language} {page}: {expected!r}"
                if language != "en" and path != "customers/999999":
                    for english in ENGLISH:
                        assert english not in text, f"{language} {page}: {english!r} left in English"


async def test_a_users_choice_wins_over_the_browser_and_is_kept(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        await users(runtime)
        async with client(runtime) as http:
            http.headers["Accept-Language"] = BROWSER["en"]
            await log_in(http, "viewer")  # any role may choose its language
            page = await http.get("/dashboard/kumo/flows")
            assert "Turn on" not in page.text and "Flows · 雲茶舗" in page.text
            assert '<option value="en" lang="en" selected>English</option>' in page.text
            forged = await http.post("/dashboard/language", data={"language": "ja", "next": "/dashboard/kumo/flows"})
            assert forged.status_code == 403
            chosen = await http.post("/dashboard/language", data={"csrf": token(page.text), "language": "zh_Hans",
                                                                  "next": "/dashboard/kumo/flows"})
            assert chosen.status_code == 303 and chosen.headers["location"] == "/dashboard/kumo/flows"
            page = await http.get("/dashboard/kumo/flows")
            assert "流程 · 雲茶舗" in page.text and '<html lang="zh-Hans">' in page.text
            assert '<option value="zh_Hans" lang="zh-Hans" selected>简体中文</option>' in page.text
            refused = await http.post("/dashboard/language", data={"csrf": token(page.text), "language": "fr"})
            assert refused.status_code == 400 and "语言" in refused.text
            elsewhere = await http.post("/dashboard/language", data={"csrf": token(page.text), "language": "ja",
                                                                     "next": "https://evil.example/"})
            assert elsewhere.headers["location"] == "/dashboard"  # only a path on this site
        async with client(runtime) as http:  # another browser, another day: the choice is the user's
            http.headers["Accept-Language"] = BROWSER["zh_Hans"]
            await log_in(http, "viewer")
            page = await http.get("/dashboard/kumo/messages")
            assert "メッセージ · 雲茶舗" in page.text
            back = await http.post("/dashboard/language", data={"csrf": token(page.text), "language": "",
                                                                "next": "/dashboard/kumo/messages"})
            assert back.status_code == 303  # empty: follow the browser again
            assert "消息 · 雲茶舗" in (await http.get("/dashboard/kumo/messages")).text
        async with client(runtime) as http:  # nothing the dashboard speaks: English
            http.headers["Accept-Language"] = "fr-FR,de;q=0.8"
            await log_in(http, "owner")
            assert "Messages · 雲茶舗" in (await http.get("/dashboard/kumo/messages")).text


async def test_errors_and_notices_speak_the_users_language(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        await users(runtime)
        async with client(runtime) as http:
            http.headers["Accept-Language"] = BROWSER["ja"]
            await log_in(http, "owner")
            bad = await http.get("/dashboard/kumo/messages", params={"from": "2026-13-01"})
            assert bad.status_code == 400 and "は日付ではありません" in bad.text
            missing = await http.get("/dashboard/kumo/customers/999999")
            assert missing.status_code == 404 and "顧客 &#39;999999&#39; は見つかりません" in missing.text
            page = await http.get("/dashboard/kumo/templates/order-confirmation/ja")
            url = "/dashboard/kumo/templates/order-confirmation/ja"
            preview = await http.post(url, data={"csrf": token(page.text), "action": "preview",
                                                 "source": "{% block subject %}テスト{% endblock %}"})
            assert "下書きのプレビュー（未保存）" in preview.text
            wrong = await http.post(f"{url}/test", data={"csrf": token(page.text), "to": "not an address"})
            assert wrong.status_code == 400 and "はメールアドレスではありません" in wrong.text
            form = await http.post("/dashboard/kumo/tests", data={
                "csrf": token(page.text), "step": "order-confirmation:0", "split": "150", "metric": "open",
                "confidence": "0.95", "min_sample": "100"})
            assert form.status_code == 400 and "split：1〜99 の整数を入力してください" in form.text
            segment = await http.post("/dashboard/kumo/segments", data={
                "csrf": token(page.text), "slug": "Not A Slug",
                "definition": "{field: stats.order_count, op: '>=', value: 2}"})
            assert segment.status_code == 400 and "スラッグ：半角英小文字・数字・「-」を使ってください" in segment.text
            sms = "/dashboard/kumo/templates/shipping-confirmation/ja"
            long = await http.post(sms, data={"csrf": token(page.text), "channel": "sms", "action": "preview",
                                              "source": "{% block text %}" + "ご注文の商品を発送しました。" * 20
                                              + "{% endblock %}"})
            assert long.status_code == 200
            assert re.search(r'id="sms-warning">\d+ 通分（UCS-2）：3 通分を超えるため', long.text)

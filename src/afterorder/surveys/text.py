"""The words of the survey pages, in ja, zh-Hans and en."""

from __future__ import annotations

from afterorder.content.i18n import localized

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "nps_question_title": "One quick question",
        "nps_question": "How likely are you to recommend {store} to a friend? Choose a score from 0 to 10.",
        "nps_title": "Thank you for your answer",
        "nps_thanks": "You gave us {score} out of 10. Thank you!",
        "nps_change": "Your score",
        "comment_label": "Anything you would like to tell us? (optional)",
        "comment_saved": "Your comment has been saved. Thank you for taking the time.",
        "send": "Send",
        "profile_title": "Tell us about yourself",
        "profile_intro": "A few questions so we can send you what suits you. Every answer is optional.",
        "profile_saved": "Thank you! Your answers have been saved.",
        "error_title": "Something is wrong",
        "bad_link": "This link is not valid. Please use the link in the email we sent you.",
        "bad_input": "Please check your answer: {reason}",
        "not_likely": "Not likely",
        "very_likely": "Very likely",
    },
    "ja": {
        "nps_question_title": "アンケートご協力のお願い",
        "nps_question": "{store}をご家族やご友人にすすめる可能性はどのくらいありますか？0〜10の中からお選びください。",
        "nps_title": "ご回答ありがとうございます",
        "nps_thanks": "10点満点中{score}点とご評価いただきました。ありがとうございます。",
        "nps_change": "評価",
        "comment_label": "ご意見・ご感想があればお聞かせください（任意）",
        "comment_saved": "コメントを保存しました。お時間をいただきありがとうございます。",
        "send": "送信する",
        "profile_title": "あなたのことを教えてください",
        "profile_intro": "お好みに合ったご案内をお届けするための簡単な質問です。すべて任意です。",
        "profile_saved": "ありがとうございます。ご回答を保存しました。",
        "error_title": "問題が発生しました",
        "bad_link": "このリンクは無効です。お送りしたメールのリンクをご利用ください。",
        "bad_input": "回答をご確認ください：{reason}",
        "not_likely": "まったく思わない",
        "very_likely": "非常にそう思う",
    },
    "zh-Hans": {
        "nps_question_title": "邀您参与一个小调查",
        "nps_question": "您有多大可能向朋友或家人推荐{store}？请在 0～10 分中选择。",
        "nps_title": "感谢您的回答",
        "nps_thanks": "您给了我们 {score} 分（满分 10 分）。谢谢！",
        "nps_change": "您的评分",
        "comment_label": "还有什么想告诉我们的吗？（选填）",
        "comment_saved": "您的留言已保存。感谢您抽出宝贵时间。",
        "send": "提交",
        "profile_title": "告诉我们一些关于您的信息",
        "profile_intro": "几个简单的问题，帮助我们为您推荐合适的内容。所有问题均为选填。",
        "profile_saved": "谢谢！您的回答已保存。",
        "error_title": "出了点问题",
        "bad_link": "此链接无效。请使用我们发送给您的邮件中的链接。",
        "bad_input": "请检查您的回答：{reason}",
        "not_likely": "完全不可能",
        "very_likely": "非常可能",
    },
}


def survey_text(locale: str) -> dict[str, str]:
    """The words in ``locale`` (English when none fits); the page fills in their ``{store}`` and ``{score}``."""
    return localized(_TEXT, locale)

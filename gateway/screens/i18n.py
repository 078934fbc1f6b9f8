"""Texts of the screens in English and Chinese (simplified), by key.

Owns the wording only. Lane refusals arrive as English sentences with a stable `code`; a
Chinese screen shows its own sentence for the codes it knows and the lane's English for
the rest (a new refusal is never hidden). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Language = str
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Till", "customer_title": "Welcome", "basket": "Basket", "item": "Item",
        "qty": "Qty", "price": "Price", "amount": "Amount", "total": "Total",
        "subtotal": "Before savings", "tax": "incl. tax", "savings": "You save",
        "cash_total": "Cash (rounded)", "paid": "Paid", "due": "Still to pay",
        "change": "Change", "member": "Member", "points": "points",
        "no_member": "No member card", "empty": "Scan an item to start",
        "closed": "Till closed: sign on", "idle": "Ready for the next customer",
        "in_sale": "Sale in progress", "tendering": "Payment",
        "entry": "Entry", "scanner": "Scanner", "scale": "Scale", "printer": "Printer",
        "display": "Pole display", "unknown": "not seen", "connected": "connected",
        "disconnected": "disconnected", "error": "error", "offline": "offline",
        "paper_out": "paper out", "paper_near_end": "paper low", "cover_open": "cover open",
        "ready": "ready", "stable": "stable", "motion": "moving", "zero": "empty",
        "under_zero": "below zero", "over_capacity": "over capacity",
        "suspended": "Suspended sales", "cashier": "Cashier", "shift": "Shift",
        "sign_on": "Sign on", "staff_id": "Staff number", "pin": "PIN", "reason": "Reason",
        "supervisor": "Supervisor needed", "authorize": "Authorise", "cancel": "Cancel",
        "refund": "Refund", "receipt_id": "Receipt number", "last_sale": "Last sale",
        "thank_you": "Thank you!", "welcome": "Welcome", "hello": "Hello",
        "your_receipt": "Your receipt", "keys_help": "Keys", "refunded": "Refunded",
        "k_enter": "Enter: scan / PLU", "k_member": "Member", "k_weigh": "Weigh",
        "k_qty": "Quantity", "k_void_line": "Void line", "k_suspend": "Suspend",
        "k_resume": "Resume", "k_cash": "Cash", "k_card": "Card", "k_refund": "Refund",
        "k_void_sale": "Void sale", "k_sign": "Sign on/off", "k_up": "Line up",
        "k_down": "Line down", "k_escape": "Cancel", "login": "Staff login",
        "login_hint": "This screen is on the shop network: sign in with your staff number.",
        "sign_in": "Sign in", "weight": "Weight", "last_item": "Last item",
        "items": "items", "alerts": "Alerts", "close_shift": "Close shift",
        "counted": "Cash counted", "pole_due": "Due",
        "k_coupon": "Coupon", "k_price": "Price", "k_points": "Points",
        "k_stored_value": "Stored value", "k_refund_lines": "Refund lines",
        "k_return": "Return, no receipt", "k_no_sale": "No sale (drawer)",
        "code": "Item code / PLU", "reference": "Terminal reference",
        "pay_back": "Pay back (cash / card / stored value)", "cash_word": "cash",
        "lines_hint": "How many of each line to refund: digits; Space: all that is left "
                      "(again: none); + / -: one more / less; ↑ ↓: next line; Enter: refund.",
        "receipt_hint": "Type or scan the receipt number, then Enter: its lines are listed.",
        "sold": "Sold", "paid_line": "Paid", "refunded_qty": "Refunded",
        "left": "Refundable", "refund_now": "Refund", "all_word": "all",
        "whole_line": "whole line only", "all_refunded": "Every line was already refunded.",
        "sold_by": "sold by", "receipt_total": "Total",
    },
    "zh": {
        "title": "收银台", "customer_title": "欢迎光临", "basket": "购物清单", "item": "商品",
        "qty": "数量", "price": "单价", "amount": "金额", "total": "应付",
        "subtotal": "原价合计", "tax": "含税", "savings": "已优惠",
        "cash_total": "现金应付(取整)", "paid": "已付", "due": "待付",
        "change": "找零", "member": "会员", "points": "积分",
        "no_member": "未刷会员卡", "empty": "请扫描商品",
        "closed": "收银台未开班：请登录", "idle": "请下一位顾客",
        "in_sale": "正在收银", "tendering": "付款中",
        "entry": "输入", "scanner": "扫描枪", "scale": "电子秤", "printer": "打印机",
        "display": "客显", "unknown": "未连接", "connected": "已连接",
        "disconnected": "已断开", "error": "故障", "offline": "离线",
        "paper_out": "缺纸", "paper_near_end": "纸将用完", "cover_open": "机盖打开",
        "ready": "就绪", "stable": "稳定", "motion": "晃动中", "zero": "空秤",
        "under_zero": "负重量", "over_capacity": "超量程",
        "suspended": "挂单", "cashier": "收银员", "shift": "班次",
        "sign_on": "登录", "staff_id": "工号", "pin": "密码", "reason": "原因",
        "supervisor": "需要主管授权", "authorize": "授权", "cancel": "取消",
        "refund": "退货", "receipt_id": "小票号", "last_sale": "上一单",
        "thank_you": "谢谢惠顾！", "welcome": "欢迎光临", "hello": "您好",
        "your_receipt": "电子小票", "keys_help": "快捷键", "refunded": "已退款",
        "k_enter": "回车：扫码 / PLU", "k_member": "会员", "k_weigh": "称重",
        "k_qty": "数量", "k_void_line": "删行", "k_suspend": "挂单",
        "k_resume": "取单", "k_cash": "现金", "k_card": "银行卡", "k_refund": "退货",
        "k_void_sale": "整单取消", "k_sign": "登录/交班", "k_up": "上一行",
        "k_down": "下一行", "k_escape": "取消", "login": "员工登录",
        "login_hint": "此屏幕位于店内网络：请用工号登录。",
        "sign_in": "登录", "weight": "重量", "last_item": "最后一件",
        "items": "件", "alerts": "提示", "close_shift": "交班",
        "counted": "实点现金", "pole_due": "待付",
        "k_coupon": "优惠券", "k_price": "改价", "k_points": "积分支付",
        "k_stored_value": "储值支付", "k_refund_lines": "部分退货",
        "k_return": "无小票退货", "k_no_sale": "开钱箱",
        "code": "商品码 / PLU", "reference": "终端参考号",
        "pay_back": "退款方式（现金 / 银行卡 / 储值）", "cash_word": "现金",
        "lines_hint": "在行上输入退货数量；空格：全部可退（再按：不退）；+ / -：加减一件；"
                      "↑ ↓：换行；回车：退货。",
        "receipt_hint": "请输入或扫描小票号，再按回车：列出小票各行。",
        "sold": "售出", "paid_line": "实付", "refunded_qty": "已退",
        "left": "可退", "refund_now": "本次退", "all_word": "全部",
        "whole_line": "只能整行退", "all_refunded": "此小票各行都已退货。",
        "sold_by": "收银员", "receipt_total": "合计",
    },
}

REFUSALS_ZH: dict[str, str] = {
    "not_now": "现在不能这样操作。",
    "misread": "条码未读出：请重扫或手输条码。",
    "unknown_item": "商品不在目录中：请放在一边并呼叫主管。",
    "needs_weight": "此商品按重量销售：请放到秤上称重。",
    "bad_quantity": "数量必须是 1-9999 的整数。",
    "scale_unstable": "秤还在晃动：请等稳定。",
    "scale_empty": "请把商品放到秤上。",
    "scale_over": "超过秤的量程。",
    "not_weighed": "此商品按件销售，不按重量。",
    "no_such_line": "没有这一行。",
    "needs_override": "此操作需要主管授权：请刷主管卡或输入主管密码。",
    "not_permitted": "此人无权授权此操作。",
    "over_ceiling": "金额超过主管的授权上限。",
    "needs_reason": "请输入原因。",
    "member_set": "本单已有会员。",
    "unknown_card": "未知的卡。",
    "blocked": "此会员卡已冻结。",
    "blacklisted": "此卡已挂失。",
    "members_off": "本收银台不接受会员卡。",
    "empty_sale": "还没有商品：请先扫描。",
    "no_change": "只有现金可以找零。",
    "needs_reference": "请输入交易参考号（终端或券号）。",
    "needs_member": "请先刷会员卡。",
    "unknown_receipt": "本收银台没有这张小票。",
    "no_such_suspension": "没有这张挂单。",
    "wrong_pin": "工号或密码错误。",
    "locked_out": "密码错误次数过多，已锁定。",
    "bad_amount": "金额必须大于零。",
    "needs_price": "请输入新单价，再按 Shift+F4。",
    "bad_price": "价格无效。",
    "needs_coupon": "请输入或扫描优惠券码，再按 Shift+F2。",
    "unknown_coupon": "此优惠券在本店无效。",
    "coupon_twice": "此优惠券已用于本单。",
    "bad_lines": "请选择要退的行：在行上输入数量，或按空格全退。",
    "already_refunded": "已经退过货。",
    "beyond_quantity": "退货数量超过可退数量。",
    "whole_line_only": "称重商品只能整行退货。",
    "needs_receipt": "称重商品需要小票才能退货。",
    "not_member_tender": "这不是会员支付方式。",
    "bad_tender": "退款方式：现金、银行卡或储值。",
    "no_points_payout": "积分不退现：请退现金、银行卡或储值。",
    "no_member_to_credit": "无小票退货没有会员可退储值：请退现金或银行卡。",
    "points_back": "积分只能退回积分，现在无法退回，也不能退现金：请联系主管。",
}


# The lane's notices are English sentences without codes: known shapes are translated,
# anything else is shown as the lane wrote it.
NOTICES_ZH: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Shift (\S+) open for (.+)\.$"), r"班次 \1 已开班：\2。"),
    (re.compile(r"^Change: (\S+)$"), r"找零：\1"),
    (re.compile(r"^Still to pay: (\S+)$"), r"待付：\1"),
    (re.compile(r"^Member (\S+) is lost: the (\d+) points go back to the account, not to "
                r"the card\.$"), r"会员 \1 已挂失：\2 积分退回账户，不退回卡。"),
    (re.compile(r"^Member (\S+) is blocked: the (\d+) points go back to the account, not "
                r"to the card\.$"), r"会员 \1 已冻结：\2 积分退回账户，不退回卡。"),
    (re.compile(r"^(\d+) points go back to member (\S+) \(balance (-?\d+)\), nothing in "
                r"money\.$"), r"\1 积分退回会员 \2（余额 \3），不退现金。"),
    (re.compile(r"^(\d+) points go back to member (\S+) \(balance (-?\d+)\)\.$"),
     r"\1 积分退回会员 \2（余额 \3）。"),
    (re.compile(r"^(\d+) points go back to member (\S+), nothing in money\.$"),
     r"\1 积分退回会员 \2，不退现金。"),
    (re.compile(r"^(\d+) points go back to member (\S+)\.$"), r"\1 积分退回会员 \2。"),
    (re.compile(r"^Member (.+)\.$"), r"会员：\1。"),
    (re.compile(r"^Sale suspended as (\S+)\.$"), r"已挂单：\1。"),
    (re.compile(r"^Resumed (\S+)\.$"), r"已取单：\1。"),
    (re.compile(r"^Sale voided\.$"), "整单已取消。"),
    (re.compile(r"^Give back cash (\S+)\.$"), r"退还现金 \1。"),
    (re.compile(r"^Give back card (\S+)\.$"), r"退回银行卡 \1。"),
    (re.compile(r"^Give back stored_value (\S+)\.$"), r"退回储值 \1。"),
    (re.compile(r"^Give back (\S+) (\S+)\.$"), r"退还 \1 \2。"),
    (re.compile(r"^Drawer open\.$"), "钱箱已打开。"),
)


def notice_text(language: Language, text: str) -> str:
    """The cashier's sentence for a lane notice in `language`."""
    if language != "zh":
        return text
    for pattern, replacement in NOTICES_ZH:
        if pattern.match(text):
            return pattern.sub(replacement, text)
    return text


def translator(language: Language) -> Callable[[str], str]:
    """`t(key)` in `language`, falling back to English, then to the key itself."""
    texts, english = TEXTS.get(language, TEXTS["en"]), TEXTS["en"]
    return lambda key: texts.get(key) or english.get(key) or key


def refusal_text(language: Language, code: str, message: str) -> str:
    """The cashier's sentence for a lane refusal in `language`."""
    if language == "zh" and code in REFUSALS_ZH:
        return REFUSALS_ZH[code]
    return message

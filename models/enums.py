"""Every state and category of the domain, with the seed documents' Chinese words."""
from models.base import LabeledEnum


class Role(LabeledEnum):
    SECRETARIAT = ("secretariat", "秘书处", "Secretariat")
    SUB_DELEGATION_ADMIN = ("sub_delegation_admin", "分团管理员", "Sub-delegation admin")
    FINANCE = ("finance", "财务", "Finance")
    VIEWER = ("viewer", "只读查看", "Viewer")


class SubDelegationKind(LabeledEnum):
    CITY = ("city", "地市分团", "City")
    DEPARTMENT = ("department", "省直单位分团", "Provincial department")


class OrgCategory(LabeledEnum):
    ENTERPRISE = ("enterprise", "企业", "Enterprise")
    SOCIAL_ORGANISATION = ("social_organisation", "社会组织", "Social organisation")
    PUBLIC_INSTITUTION = ("public_institution", "事业单位", "Public institution")
    GOVERNMENT_AGENCY = ("government_agency", "政府机构", "Government agency")
    OVERSEAS_ENTERPRISE = ("overseas_enterprise", "境外企业", "Overseas enterprise")
    OVERSEAS_GOVERNMENT = ("overseas_government", "境外政府部门", "Overseas government department")
    OVERSEAS_SOCIAL_ORGANISATION = ("overseas_social_organisation", "境外社会组织", "Overseas social organisation")
    OVERSEAS_OTHER = ("overseas_other", "境外其他", "Overseas other")

    @property
    def is_overseas(self) -> bool:
        return self.value.startswith("overseas_")


class OrgState(LabeledEnum):
    DRAFT = ("draft", "待提交", "Draft")
    SUBMITTED = ("submitted", "待审核", "Submitted")
    FIRST_APPROVED = ("first_approved", "初审通过", "First review passed")
    APPROVED = ("approved", "审核通过", "Approved")
    RETURNED = ("returned", "退回修改", "Returned for edit")
    REJECTED = ("rejected", "审核不通过", "Rejected")


class Gender(LabeledEnum):
    MALE = ("male", "男", "Male")
    FEMALE = ("female", "女", "Female")


class RegionType(LabeledEnum):
    MAINLAND = ("mainland", "中国大陆地区", "Mainland China")
    HK_MACAO_TAIWAN = ("hk_macao_taiwan", "港澳台地区", "Hong Kong, Macao, Taiwan")
    OTHER_COUNTRY = ("other_country", "其他国家/地区", "Other country or region")
    OVERSEAS_CHINESE = ("overseas_chinese", "中国（永居海外）", "Chinese residing overseas")


class IdType(LabeledEnum):
    RESIDENT_ID = ("resident_id", "居民身份证", "Resident ID card")
    HK_MACAO_PERMIT = ("hk_macao_permit", "港澳居民来往内地通行证", "Home Return Permit (HK/Macao)")
    TAIWAN_PERMIT = ("taiwan_permit", "台湾居民来往大陆通行证", "Taiwan Compatriot Permit")
    PASSPORT = ("passport", "护照", "Passport")


class Pickup(LabeledEnum):
    EXPRESS = ("express", "快递", "Express delivery")
    DELEGATION = ("delegation", "交易团统一领取", "Collected by the delegation")


class Label(LabeledEnum):
    VIP = ("vip", "VIP", "VIP")
    STAFF = ("staff", "工作人员", "Staff")
    PROFESSIONAL = ("professional", "专业观众", "Professional visitor")

    @property
    def rank(self) -> int:
        """Upgrade order: professional < staff < VIP."""
        return {"professional": 0, "staff": 1, "vip": 2}[self.value]

    @property
    def is_free(self) -> bool:
        """VIP and staff badges carry no fee."""
        return self is not Label.PROFESSIONAL


class PersonState(LabeledEnum):
    SAVED = ("saved", "已保存", "Saved")
    PENDING_LOCK = ("pending_lock", "待锁定", "Pending lock")
    PENDING_CONFIRMATION = ("pending_confirmation", "待确认", "Pending confirmation")
    PENDING_PAYMENT = ("pending_payment", "待支付", "Pending payment")
    PENDING_REVIEW = ("pending_review", "待审核", "Pending review")
    APPROVED = ("approved", "审核通过", "Approved")
    REVIEW_FAILED = ("review_failed", "审核不通过", "Review failed")
    BADGE_PRODUCED = ("badge_produced", "证件已制作", "Badge produced")
    BADGE_ISSUED = ("badge_issued", "证件已发放", "Badge issued")
    CANCELLED = ("cancelled", "已注销", "Cancelled")


class CopayDecision(LabeledEnum):
    UNDECIDED = ("undecided", "未确认", "Undecided")
    CONFIRMED = ("confirmed", "确认代付", "Co-payment confirmed")
    CANCELLED = ("cancelled", "取消代付", "Co-payment cancelled")


class OrderState(LabeledEnum):
    UNPAID = ("unpaid", "待支付", "Unpaid")
    VOUCHER_SUBMITTED = ("voucher_submitted", "凭证待审核", "Voucher submitted")
    PAID = ("paid", "已支付", "Paid")
    CANCELLED = ("cancelled", "已取消", "Cancelled")
    EXPIRED = ("expired", "已过期", "Expired")


class PaymentMethod(LabeledEnum):
    QR_ALIPAY = ("qr_alipay", "扫码支付（支付宝）", "QR (Alipay)")
    QR_WECHAT = ("qr_wechat", "扫码支付（微信）", "QR (WeChat Pay)")
    QR_UNIONPAY = ("qr_unionpay", "扫码支付（银联）", "QR (UnionPay)")
    B2B = ("b2b", "B2B网关支付", "B2B gateway")
    TRANSFER = ("transfer", "转账支付", "Bank transfer")


class InvoiceKind(LabeledEnum):
    ELECTRONIC_NORMAL = ("electronic_normal", "普通发票（电子）", "Electronic normal invoice")
    PAPER_SPECIAL = ("paper_special", "专用发票（纸质）", "Paper special invoice")


class InvoiceState(LabeledEnum):
    REQUESTED = ("requested", "已申请", "Requested")
    ISSUED = ("issued", "已开票", "Issued")
    VOID_REQUESTED = ("void_requested", "退票申请中", "Void requested")
    VOIDED = ("voided", "已退票", "Voided")


class RefundMethod(LabeledEnum):
    ORIGINAL_ROUTE = ("original_route", "原路退回", "Original route")
    BANK_ACCOUNT = ("bank_account", "退至银行账户", "To a bank account")


class RefundState(LabeledEnum):
    REQUESTED = ("requested", "已申请", "Requested")
    APPROVED = ("approved", "已批准", "Approved")
    REFUNDED = ("refunded", "已退款", "Refunded")
    REJECTED = ("rejected", "已驳回", "Rejected")


class Channel(LabeledEnum):
    EMAIL = ("email", "邮件", "E-mail")
    SMS = ("sms", "短信", "SMS")


class OutboxState(LabeledEnum):
    PENDING = ("pending", "待发送", "Pending")
    SENT = ("sent", "已发送", "Sent")
    FAILED = ("failed", "发送失败", "Failed")


class JobState(LabeledEnum):
    """A background job's progress: queued on RQ (or about to run inline), running, then done or failed."""

    QUEUED = ("queued", "排队中", "Queued")
    RUNNING = ("running", "进行中", "Running")
    DONE = ("done", "已完成", "Done")
    FAILED = ("failed", "失败", "Failed")


class PaymentState(LabeledEnum):
    """A payment's own state: vouchers are submitted, then verified or rejected; gateway payments are recorded."""

    SUBMITTED = ("submitted", "凭证待审核", "Voucher submitted")
    VERIFIED = ("verified", "已核验", "Verified")
    REJECTED = ("rejected", "已驳回", "Rejected")
    RECORDED = ("recorded", "已到账", "Recorded")


class PartyKind(LabeledEnum):
    """Who paid or whom an invoice is made out to (seeds: 汇款方 / 发票抬头 单位 或 个人)."""

    ORGANIZATION = ("organization", "单位", "Organisation")
    INDIVIDUAL = ("individual", "个人", "Individual")

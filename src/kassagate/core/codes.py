"""Every response code kassagate answers, with its meaning.

``FrontCode``: the front server's codes, as its merchants' clients know them
(``docs/front.md``). ``CashboxCode``: the codes of a register speaking the Cashbox protocol
(``docs/cashbox.md``).

Where each code is *decided*: front intake checks run in ``kassagate.front.intake`` (in
the order listed in ``docs/front.md``), receipt rules (code 60) in ``kassagate.core.receipt``,
the register's codes in ``kassagate.core.register``; the codes found after acceptance
(210, 240, 250, 330, 340, 60, 70) in ``kassagate.processing``.
"""

from __future__ import annotations

from enum import IntEnum


class FrontCode(IntEnum):
    ACCEPTED = 800
    ACCEPTED_RID_INVALID = 810
    ACCEPTED_NO_RID = 820
    ACCEPTED_DEBUG = 390
    TEST_CONNECT = 100
    TEST_DECRYPT = 140
    RID_DUPLICATE = 409

    NO_KKT = 40
    KKT_NOT_REGISTERED = 50
    RECEIPT_INVALID = 60
    STORE_FAILED = 70
    UNEXPECTED = 80
    ENVELOPE_INVALID = 90
    LAYER2_INVALID = 110
    RSA_FAILED = 120
    HMAC_FAILED = 130
    CLUSTER_ENVELOPE_INVALID = 150
    CLUSTER_ID_INVALID = 160
    CLUSTER_NOT_ACTIVATED = 170
    CLUSTER_TOKEN_WRONG = 180
    CLUSTER_EMPTY = 190
    CLUSTER_ALL_FN_DOWN = 200
    CLUSTER_ALL_FN_DOWN_AT_DISPATCH = 210
    CLUSTER_TYPE_UNKNOWN = 220
    CLUSTER_RECEIPT_TYPE_MISMATCH = 230
    CLUSTER_ALL_FAILED = 240
    CLUSTER_KASSA_TYPE_MISMATCH = 250
    CLUSTER_LAYER2_INVALID = 260
    KASSAID_MISSING = 270
    KASSAID_MALFORMED = 280
    TOKEN_MISSING = 290
    KASSA_UNKNOWN = 300
    KASSA_NOT_ACTIVATED = 310
    TOKEN_WRONG = 320
    FN_BROKEN = 330
    FN_EXHAUSTED = 340
    RECEIPT_ACCOUNT_MISMATCH = 350
    VENDING_FIELDS_MISSING = 4040

    @property
    def is_success(self) -> bool:
        return self in _FRONT_SUCCESS

    @property
    def http_status(self) -> int:
        return 409 if self is FrontCode.RID_DUPLICATE else 200


_FRONT_SUCCESS = frozenset(
    {
        FrontCode.ACCEPTED,
        FrontCode.ACCEPTED_RID_INVALID,
        FrontCode.ACCEPTED_NO_RID,
        FrontCode.ACCEPTED_DEBUG,
        FrontCode.TEST_CONNECT,
        FrontCode.TEST_DECRYPT,
    }
)

#: The human text of each front code (English rendering of the first seed).
FRONT_MESSAGES: dict[FrontCode, str] = {
    FrontCode.ACCEPTED: "Fiscalization request accepted. RID recorded.",
    FrontCode.ACCEPTED_RID_INVALID: "Fiscalization request accepted. RID not recorded: see rid_error.",
    FrontCode.ACCEPTED_NO_RID: "Fiscalization request accepted. RID not recorded: none was sent.",
    FrontCode.ACCEPTED_DEBUG: (
        "Fiscalization request accepted. The kassa is in debug mode: no real fiscalization "
        "will happen, but the request is shown in the cabinet. RID not recorded."
    ),
    FrontCode.TEST_CONNECT: "test = 1: request not stored (connectivity check).",
    FrontCode.TEST_DECRYPT: "test = 1: request not stored (connectivity and decryption check passed).",
    FrontCode.RID_DUPLICATE: "This RID is already recorded. No fiscalization will happen.",
    FrontCode.NO_KKT: "No cash register (KKT) is bound to this kassaid.",
    FrontCode.KKT_NOT_REGISTERED: "The cash register (KKT) of this kassaid has no fiscal registration.",
    FrontCode.RECEIPT_INVALID: "The receipt could not be processed. No fiscalization will happen.",
    FrontCode.STORE_FAILED: "The request could not be stored or queued; nothing was accepted, a retry is safe.",
    FrontCode.UNEXPECTED: "Unexpected error while processing the request.",
    FrontCode.ENVELOPE_INVALID: "Parameters aab/dde not found or not in the required format.",
    FrontCode.LAYER2_INVALID: "Parameters ab/de not found or not in the required format.",
    FrontCode.RSA_FAILED: "Encryption is malformed: RSA decryption is impossible.",
    FrontCode.HMAC_FAILED: "Encryption is malformed: the HMAC does not verify.",
    FrontCode.CLUSTER_ENVELOPE_INVALID: "Parameters aab/dde not found or not in the required format (cluster).",
    FrontCode.CLUSTER_ID_INVALID: "Cluster id or token incorrect (cluster).",
    FrontCode.CLUSTER_NOT_ACTIVATED: "The cluster is not activated.",
    FrontCode.CLUSTER_TOKEN_WRONG: "Cluster id or token incorrect (cluster).",
    FrontCode.CLUSTER_EMPTY: "No kassaid is attached to the cluster.",
    FrontCode.CLUSTER_ALL_FN_DOWN: "Every cash register of the cluster has a full or broken fiscal drive.",
    FrontCode.CLUSTER_ALL_FN_DOWN_AT_DISPATCH: (
        "Every cash register of the cluster had a full or broken fiscal drive at dispatch."
    ),
    FrontCode.CLUSTER_TYPE_UNKNOWN: "The cluster's type is incorrect.",
    FrontCode.CLUSTER_RECEIPT_TYPE_MISMATCH: "The receipt does not fit the cluster's type.",
    FrontCode.CLUSTER_ALL_FAILED: "Every cash register of the cluster failed while fiscalizing.",
    FrontCode.CLUSTER_KASSA_TYPE_MISMATCH: "The kassa picked is of a type other than the cluster's.",
    FrontCode.CLUSTER_LAYER2_INVALID: "Parameters ab/de not found or not in the required format (cluster).",
    FrontCode.KASSAID_MISSING: "kassaid or token incorrect: kassaid is missing.",
    FrontCode.KASSAID_MALFORMED: "kassaid or token incorrect: kassaid must be 1 to 20 digits.",
    FrontCode.TOKEN_MISSING: "kassaid or token incorrect: kassatoken is missing.",
    FrontCode.KASSA_UNKNOWN: "kassaid or token incorrect.",
    FrontCode.KASSA_NOT_ACTIVATED: "The kassaid is not activated.",
    FrontCode.TOKEN_WRONG: "kassaid or token incorrect.",
    FrontCode.FN_BROKEN: "The fiscal drive (FN) of this cash register is broken.",
    FrontCode.FN_EXHAUSTED: "The fiscal drive (FN) resource is exhausted.",
    FrontCode.RECEIPT_ACCOUNT_MISMATCH: "kassaid or token incorrect: the receipt names another kassa.",
    FrontCode.VENDING_FIELDS_MISSING: (
        "The request lacks the vending machine's address, place or number, which this "
        "kassaid requires (check your kassaid's type)."
    ),
}


class CashboxCode(IntEnum):
    OK = 0
    AUTH = 1
    INVALID_JSON = 2
    MISSING_PARAMETER = 3
    AMOUNT_MISMATCH = 4
    INTERNAL = 5
    SHIFT_NOT_OPEN = 6
    PAYMENT_TYPE_UNSUPPORTED = 7
    NOT_FULLY_PAID = 8
    NOT_FOUND = 9
    NOT_FISCALIZED = 10
    CHANGE_CASH_ONLY = 11
    TAX_UNACCEPTABLE = 12
    LOAN_ONE_PAYMENT_TYPE = 13
    LOAN_SINGLE_PAYMENT_TYPE = 15
    TAX_INCORRECT = 16
    REFUND_ITEM_NOT_FOUND = 18
    REFUND_QTY_EXCEEDED = 19
    PREPAY_DOC_MISSING = 20
    PREPAY_ITEM_NOT_FOUND = 21
    SHIFT_EXPIRED = 22
    OPEN_ORDERS_REMAIN = 24
    SHIFT_EMPTY = 26
    CASH_REMAINS = 27
    ALREADY_REFUNDED = 36
    SHIFT_UPDATE_ERROR = 39
    SHIFT_UPDATE_ERROR_2 = 40


CASHBOX_MESSAGES: dict[CashboxCode, str] = {
    CashboxCode.OK: "",
    CashboxCode.AUTH: "Authorization error: the signature does not verify",
    CashboxCode.INVALID_JSON: "Invalid JSON format",
    CashboxCode.MISSING_PARAMETER: "Required parameters not passed",
    CashboxCode.AMOUNT_MISMATCH: "The amount on the document does not correspond to the amount on the positions",
    CashboxCode.INTERNAL: "Internal error",
    CashboxCode.SHIFT_NOT_OPEN: "Shift not open",
    CashboxCode.PAYMENT_TYPE_UNSUPPORTED: "Payment type is not supported",
    CashboxCode.NOT_FULLY_PAID: "The document is not fully paid",
    CashboxCode.NOT_FOUND: "Document not found",
    CashboxCode.NOT_FISCALIZED: "The document was never fiscalized",
    CashboxCode.CHANGE_CASH_ONLY: "Change can only be issued in cash",
    CashboxCode.TAX_UNACCEPTABLE: "Unacceptable tax percentage",
    CashboxCode.LOAN_ONE_PAYMENT_TYPE: "Loan repayment can only be accepted by one type of payment at a time",
    CashboxCode.LOAN_SINGLE_PAYMENT_TYPE: "A single loan repayment: one payment type only",
    CashboxCode.TAX_INCORRECT: "Incorrect tax percentage",
    CashboxCode.REFUND_ITEM_NOT_FOUND: "Refund: item not found in the sale",
    CashboxCode.REFUND_QTY_EXCEEDED: "Refund: quantity exceeds what was sold",
    CashboxCode.PREPAY_DOC_MISSING: "Sale using a prepayment: prepayDocID missing",
    CashboxCode.PREPAY_ITEM_NOT_FOUND: "Sale using a prepayment: item not found in the prepayment receipt",
    CashboxCode.SHIFT_EXPIRED: "The shift has lasted more than 24 hours and must be closed",
    CashboxCode.OPEN_ORDERS_REMAIN: "Open orders remain in the shift",
    CashboxCode.SHIFT_EMPTY: "No transactions in the shift",
    CashboxCode.CASH_REMAINS: "Cash remains in the drawer; withdraw it first",
    CashboxCode.ALREADY_REFUNDED: "The document was already refunded in part or in full",
    CashboxCode.SHIFT_UPDATE_ERROR: "Error updating shift data",
    CashboxCode.SHIFT_UPDATE_ERROR_2: "Error updating shift data",
}

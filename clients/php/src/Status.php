<?php

declare(strict_types=1);

namespace Kassagate;

/**
 * A request's state and, once fiscalized, its fiscal data (GET /v1/status). Numbers the
 * server sends as strings are integers here; empty fields are null. $raw keeps every
 * field under its wire name.
 */
final class Status
{
    public const PENDING = 0;
    public const FISCALIZED = 1;
    public const FAILED = 2;
    public const DEBUG = 3;

    /**
     * @param array<string, mixed> $raw
     */
    private function __construct(
        public readonly ?string $nuid,
        public readonly ?string $qnuid,
        /** check_status: 0 pending, 1 fiscalized, 2 failed, 3 debug (fake fiscal data). */
        public readonly int $checkStatus,
        public readonly ?string $statusInfo,
        /** error_code: the front code of a failure (60, 70, 330...), null while there is none. */
        public readonly ?int $errorCode,
        public readonly ?string $errorText,
        public readonly ?string $rid,
        public readonly ?string $orderName,
        /** check_type: tag 1054 (1 sale, 2 sale return, 3 purchase, 4 purchase return). */
        public readonly ?int $settlementSign,
        /** check_sno: tag 1055. */
        public readonly ?int $taxSystem,
        /** check_itog, kopecks. */
        public readonly ?int $total,
        /** check_dt_unixtime. */
        public readonly ?int $fiscalTime,
        /** check_num_fd: the fiscal document number. */
        public readonly ?int $fiscalDocumentNumber,
        /** check_num_fp: the fiscal sign as printed. */
        public readonly ?string $fiscalSign,
        /** check_fn_num: the fiscal drive's serial number. */
        public readonly ?string $fnSerial,
        /** check_kkt_rn: the register's registration number. */
        public readonly ?string $kktRegNumber,
        public readonly ?int $shift,
        public readonly ?int $numberInShift,
        /** check_qr_code: the receipt's QR string (t=...&s=...&fn=...&i=...&fp=...&n=...). */
        public readonly ?string $qrCode,
        /** check_qr_code_img_b64: a data:image/png;base64,... URI of the QR picture. */
        public readonly ?string $qrImageDataUri,
        public readonly array $raw,
    ) {
    }

    /**
     * From the decoded JSON of GET /v1/status; null when check_status is missing or not a
     * number.
     *
     * @param array<string, mixed> $obj
     */
    public static function fromArray(array $obj): ?self
    {
        $status = self::int($obj['check_status'] ?? null);
        if ($status === null) {
            return null;
        }
        $errorCode = self::int($obj['error_code'] ?? null);
        return new self(
            self::str($obj['check_nuid'] ?? null),
            self::str($obj['check_qnuid'] ?? null),
            $status,
            self::str($obj['check_status_info'] ?? null),
            $errorCode === 0 ? null : $errorCode,
            self::str($obj['error_text'] ?? null),
            self::str($obj['rid'] ?? null),
            self::str($obj['name_zakaz'] ?? null),
            self::int($obj['check_type'] ?? null),
            self::int($obj['check_sno'] ?? null),
            self::int($obj['check_itog'] ?? null),
            self::int($obj['check_dt_unixtime'] ?? null),
            self::int($obj['check_num_fd'] ?? null),
            self::str($obj['check_num_fp'] ?? null),
            self::str($obj['check_fn_num'] ?? null),
            self::str($obj['check_kkt_rn'] ?? null),
            self::int($obj['check_shift'] ?? null),
            self::int($obj['check_num_in_shift'] ?? null),
            self::str($obj['check_qr_code'] ?? null),
            self::str($obj['check_qr_code_img_b64'] ?? null),
            $obj,
        );
    }

    public function isPending(): bool
    {
        return $this->checkStatus === self::PENDING;
    }

    public function isFiscalized(): bool
    {
        return $this->checkStatus === self::FISCALIZED;
    }

    public function isFailed(): bool
    {
        return $this->checkStatus === self::FAILED;
    }

    public function isDebug(): bool
    {
        return $this->checkStatus === self::DEBUG;
    }

    /**
     * No longer pending: fiscalized, failed or debug.
     */
    public function isFinal(): bool
    {
        return $this->checkStatus !== self::PENDING;
    }

    /**
     * The PNG bytes of the QR picture, null when there is none.
     */
    public function qrPng(): ?string
    {
        if ($this->qrImageDataUri === null) {
            return null;
        }
        $at = strpos($this->qrImageDataUri, 'base64,');
        if ($at === false) {
            return null;
        }
        $png = base64_decode(substr($this->qrImageDataUri, $at + 7), true);
        return $png === false ? null : $png;
    }

    private static function int(mixed $value): ?int
    {
        if (is_int($value)) {
            return $value;
        }
        if (is_float($value) && floor($value) === $value && abs($value) < 2 ** 53) {
            return (int) $value;
        }
        if (is_string($value) && preg_match('/^\s*-?\d{1,18}\s*$/', $value) === 1) {
            return (int) trim($value);
        }
        return null;
    }

    private static function str(mixed $value): ?string
    {
        if (is_string($value)) {
            return $value === '' ? null : $value;
        }
        if (is_int($value) || is_float($value)) {
            return (string) $value;
        }
        return null;
    }
}

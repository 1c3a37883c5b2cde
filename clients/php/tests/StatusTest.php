<?php

declare(strict_types=1);

namespace Kassagate\Tests;

use Kassagate\Status;

return static function (Harness $t): void {
    $t->test('status: wire fields are typed, "000" means no error, empty strings are null', static function (): void {
        $png = "\x89PNG\r\n\x1a\nrest";
        $status = Status::fromArray([
            'check_nuid' => '12345678901234567890123',
            'check_qnuid' => '32109876543210987654321',
            'check_status' => '1',
            'status_code' => '000',
            'error_code' => '000',
            'error_text' => '',
            'check_type' => '1',
            'check_itog' => '30000',
            'check_num_fd' => 17,
            'check_num_fp' => '0123456789',
            'check_fn_num' => '9960440300000001',
            'check_dt_unixtime' => '1764700000',
            'check_qr_code' => 't=20261203T1200&s=300.00&fn=9960440300000001&i=17&fp=123456789&n=1',
            'check_qr_code_img_b64' => 'data:image/png;base64,' . base64_encode($png),
            'check_vend_address' => '',
        ]);
        check($status !== null && $status->isFiscalized() && $status->isFinal(), 'fiscalized');
        same(null, $status->errorCode, 'error code "000"');
        same(null, $status->errorText, 'empty error text');
        same([1, 30000, 17, 1764700000], [$status->settlementSign, $status->total, $status->fiscalDocumentNumber, $status->fiscalTime], 'numbers');
        same('0123456789', $status->fiscalSign, 'the fiscal sign as printed');
        same($png, $status->qrPng(), 'QR picture bytes');
        same('', $status->raw['check_vend_address'], 'raw keeps the wire fields');
        $failed = Status::fromArray(['check_status' => 2, 'error_code' => '60', 'error_text' => 'KKT code 3']);
        check($failed->isFailed(), 'failed');
        same(60, $failed->errorCode, 'failure code');
        same(null, Status::fromArray(['check_status' => 'x']), 'no numeric check_status');
    });
};

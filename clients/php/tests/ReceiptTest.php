<?php

declare(strict_types=1);

namespace Kassagate\Tests;

use Kassagate\Exception\ReceiptInvalid;
use Kassagate\Payment;
use Kassagate\PaymentSubject;
use Kassagate\Receipt;
use Kassagate\ReceiptBuilder;
use Kassagate\TaxSystem;
use Kassagate\Vat;

return static function (Harness $t): void {
    $day = new \DateTimeImmutable('2026-12-03');

    $t->test('builder: sums, unit prices and the total are computed', static function () use ($day): void {
        $receipt = ReceiptBuilder::sale(TaxSystem::SIMPLIFIED_INCOME)
            ->line('Green tea 100 g', 15000, quantity: 2, vat: Vat::VAT_22)
            ->line('Salt', 1999, quantity: '0.75', discount: 100)
            ->line('Delivery', 30000, subject: PaymentSubject::SERVICE)
            ->pay(Payment::CASH, 10000)
            ->payRest(Payment::ELECTRONIC)
            ->email('buyer@example.com')
            ->order('Order 1001')
            ->build($day);
        $wire = $receipt->toArray();
        // 1999 × 0.75 = 1499.25 -> 1499, less the line discount 100
        same([30000, 1399, 30000], array_column($wire['products_arr'], 'summa'), 'line sums');
        same([15000, 1865, 30000], array_column($wire['products_arr'], 'price_piece'), 'unit prices after discount');
        same([2, 0.75, 1], array_column($wire['products_arr'], 'kolvo'), 'quantities');
        same(61399, $receipt->total(), 'total');
        same(['priznak_rascheta' => 1, 'itog_cheka' => 61399], $wire['itog_arr'], 'itog_arr');
        same([10000, 51399], [$wire['oplata_arr']['money_nal'], $wire['oplata_arr']['money_electro']], 'payments');
        same('email', $wire['check_send_type'], 'send type');
        same('"kolvo":0.75', substr(json_encode($wire['products_arr'][1]), strpos(json_encode($wire['products_arr'][1]), '"kolvo"'), 12), 'quantity as a JSON number');
    });

    $t->test('builder: payments that do not add up to the total are refused before sending', static function () use ($day): void {
        $builder = ReceiptBuilder::sale(TaxSystem::GENERAL)
            ->line('Coffee', 25000, quantity: 2, vat: Vat::VAT_22)
            ->pay(Payment::ELECTRONIC, 49999);
        $e = throws(ReceiptInvalid::class, static fn () => $builder->build($day));
        same('oplata_arr', $e->path, 'path');
        same(60, $e->getCode(), 'the code the server would answer');
        same(60, $e->getFrontCode(), 'front code');
        check($e->isLocal(), 'found locally');
        check(str_contains($e->getMessage(), 'expected the payments to add up to itog_cheka 50000, got 49999'), $e->getMessage());
        $over = ReceiptBuilder::sale(TaxSystem::GENERAL)->line('Tea', 100)->pay(Payment::CASH, 200)->payRest();
        same('oplata_arr', throws(ReceiptInvalid::class, static fn () => $over->build($day))->path, 'payments above the total');
    });

    $t->test('builder: a declared total or line sum that does not match is refused', static function () use ($day): void {
        $e = throws(ReceiptInvalid::class, static fn () => ReceiptBuilder::sale(TaxSystem::GENERAL)
            ->line('Tea', 15000, quantity: 3)->expectTotal(44999)->payRest()->build($day));
        same('itog_arr.itog_cheka', $e->path, 'total path');
        check(str_contains($e->reason, 'expected 45000'), $e->reason);
        $e = throws(ReceiptInvalid::class, static fn () => ReceiptBuilder::sale(TaxSystem::GENERAL)
            ->line('Tea', 5000, quantity: 3, sum: 14000)->payRest()->build($day));
        same('products_arr[0].summa', $e->path, 'line sum path');
        same('expected 15000 (= round(price_piece_bez_skidki 5000 × kolvo 3) − skidka 0), got 14000', $e->reason, 'message');
        // the shop's per-unit discount: 3 × (5000 − 500) = 13500
        $ok = ReceiptBuilder::sale(TaxSystem::GENERAL)
            ->line('Tea', 5000, quantity: 3, discount: 500, sum: 13500, unitPrice: 4500)->payRest()->build($day);
        same(13500, $ok->total(), 'per-unit discount accepted');
        $e = throws(ReceiptInvalid::class, static fn () => ReceiptBuilder::sale(TaxSystem::GENERAL)
            ->line('Tea', 5000, quantity: 3, unitPrice: 5002)->payRest()->build($day));
        same('products_arr[0].price_piece', $e->path, 'unit price off by 6 kopecks on 3 units');
        $e = throws(ReceiptInvalid::class, static fn () => ReceiptBuilder::sale(TaxSystem::GENERAL)
            ->line('Tea', 5000, discount: 5001)->payRest()->build($day));
        same('products_arr[0].skidka', $e->path, 'discount above the line amount');
    });

    $t->test('builder: ranges, quantities, VAT by date and contacts are checked', static function () use ($day): void {
        $sale = static fn (): ReceiptBuilder => ReceiptBuilder::sale(TaxSystem::GENERAL);
        $cases = [
            'products_arr[0].kolvo' => [$sale()->line('Tea', 100, quantity: '1.2345'), 'expected at most 3 decimals'],
            'products_arr[1].kolvo' => [$sale()->line('Tea', 100)->line('Salt', 100, quantity: '1,5'), "write '1.5'"],
            'products_arr[0].stavka_nds' => [$sale()->line('Tea', 100, vat: Vat::VAT_20), 'is not valid on 2026-12-03'],
            'products_arr[0].priznak_predmeta_rascheta' => [$sale()->line('Tea', 100, subject: 34), 'from 1 to 33'],
            'products_arr[0].name_tovar' => [$sale()->line(str_repeat('я', 129), 100), 'expected at most 128 characters, got 129'],
            'oplata_arr.rezhim_nalog' => [(new ReceiptBuilder(3))->line('Tea', 100), 'no longer exists'],
            'oplata_arr.client_email' => [$sale()->line('Tea', 100)->email('not-an-address'), 'got a 14-character string'],
            'oplata_arr.client_phone' => [$sale()->line('Tea', 100)->phone('777'), 'of 10 to 15 digits'],
            'products_arr' => [$sale(), 'expected at least one product'],
        ];
        foreach ($cases as $path => [$builder, $message]) {
            $e = throws(ReceiptInvalid::class, static fn () => $builder->payRest()->build($day));
            same($path, $e->path, "path for '$message'");
            check(str_contains($e->reason, $message), "$path: '{$e->reason}' lacks '$message'");
            if (str_starts_with($path, 'oplata_arr.client_')) {
                check(!str_contains($e->getMessage(), 'not-an-address') && !str_contains($e->getMessage(), '777'), 'contacts are not echoed');
            }
        }
        // a return may use any VAT code; a sale on an earlier date the codes valid then
        ReceiptBuilder::saleReturn(TaxSystem::GENERAL)->line('Tea', 100, vat: Vat::VAT_20)->payRest()->build($day);
        $sale()->line('Tea', 100, vat: Vat::VAT_20)->payRest()->build(new \DateTimeImmutable('2025-06-01'));
    });

    $t->test('receipt: a wire array from a shop is checked leniently where nothing fiscal changes', static function () use ($day): void {
        $receipt = Receipt::fromArray([
            'cms' => 'wordpress',
            'check_send_type' => 'EMAIL',
            'products_arr' => [[
                'name_tovar' => 'Tea',
                'price_piece' => '4500',
                'price_piece_bez_skidki' => '5000',
                'kolvo' => '3',
                'skidka' => 500,
                'summa' => '13500',
                'stavka_nds' => '6',
                'priznak_sposoba_rascheta' => '4',
                'priznak_predmeta_rascheta' => '1',
                'priznak_agenta' => '40',
                'name_postavshika' => false,
            ]],
            'oplata_arr' => [['rezhim_nalog' => '1', 'money_electro' => '13500', 'client_email' => 'a@b.ru']],
            'itog_arr' => ['priznak_rascheta' => '1', 'itog_cheka' => 13500.0],
        ], $day);
        $wire = $receipt->toArray();
        same('email', $wire['check_send_type'], 'send type lower-cased');
        same(['none', 3, 13500], [$wire['products_arr'][0]['priznak_agenta'], $wire['products_arr'][0]['kolvo'], $wire['products_arr'][0]['summa']], 'normalized line');
        same(0, $wire['oplata_arr']['money_nal'], 'a missing payment is 0');
        $e = throws(ReceiptInvalid::class, static fn () => Receipt::fromArray(['cms' => 'x', 'products_arr' => [['name_tovar' => 'Tea',
            'price_piece' => '50.00', 'kolvo' => 1, 'summa' => 50, 'stavka_nds' => 6, 'priznak_sposoba_rascheta' => 4,
            'priznak_predmeta_rascheta' => 1]], 'oplata_arr' => ['rezhim_nalog' => 1], 'itog_arr' => ['priznak_rascheta' => 1, 'itog_cheka' => 50]], $day));
        same('products_arr[0].price_piece', $e->path, 'roubles instead of kopecks');
        check(str_contains($e->reason, '12.50 roubles is 1250'), $e->reason);
    });

    $t->test('builder: a discount per unit or per line, agent lines', static function () use ($day): void {
        $receipt = ReceiptBuilder::sale(TaxSystem::GENERAL)
            ->line('Tea', 5000, quantity: '1.5', discount: 500, discountPerUnit: true)
            ->line('Salt', 5000, quantity: '1.5', discount: 500)
            ->line('Cup', 1000, agent: 40)
            ->line('Book', 2000, agent: 5, agentData: ['name_postavshika' => 'Supplier LLC', 'phone_postavshika' => '+79161234567'])
            ->payRest()
            ->build($day);
        $wire = $receipt->toArray();
        // (5000 − 500) × 1.5 = 6750; 5000 × 1.5 − 500 = 7000
        same([6750, 7000, 1000, 2000], array_column($wire['products_arr'], 'summa'), 'line sums');
        same([4500, 4667, 1000, 2000], array_column($wire['products_arr'], 'price_piece'), 'unit prices after discount');
        same(['none', 'none', 5], array_column(array_slice($wire['products_arr'], 1), 'priznak_agenta'), 'agent signs');
        same('Supplier LLC', $wire['products_arr'][3]['name_postavshika'], 'supplier of an agent line');
        $e = throws(ReceiptInvalid::class, static fn () => ReceiptBuilder::sale(TaxSystem::GENERAL)
            ->line('Tea', 5000, quantity: 3, discount: 5001, discountPerUnit: true)->payRest()->build($day));
        same(['products_arr[0].skidka', 'expected at most 5000 (= price_piece_bez_skidki, a discount per unit), got 5001'], [$e->path, $e->reason], 'per-unit discount above the price');
        $e = throws(ReceiptInvalid::class, static fn () => ReceiptBuilder::sale(TaxSystem::GENERAL)
            ->line('Book', 2000, agent: 2, agentData: ['name_postavshika' => 'Supplier LLC', 'phone_postavshika' => '+79161234567'])->payRest()->build($day));
        same('products_arr[0].phone_oper_priem_plat', $e->path, 'a paying agent needs the operator\'s phone');
        check(str_contains($e->reason, 'when priznak_agenta is 2 (paying agent)'), $e->reason);
        throws(\InvalidArgumentException::class, static fn () => ReceiptBuilder::sale(TaxSystem::GENERAL)->line('Tea', 100, agentData: ['supplier' => 'x']));
    });

    $t->test('receipt: the server\'s rules for discounts, agents, the money cap and corrections', static function () use ($day): void {
        $line = ['name_tovar' => 'Tea', 'kolvo' => 3, 'price_piece' => 5000, 'summa' => 15000, 'stavka_nds' => 6,
            'priznak_sposoba_rascheta' => 4, 'priznak_predmeta_rascheta' => 1];
        $receipt = static fn (array $line, array $extra = []): array => $extra + [
            'cms' => 'shop', 'check_send_type' => 'none', 'products_arr' => [$line],
            'oplata_arr' => ['rezhim_nalog' => 1, 'money_electro' => $line['summa']],
            'itog_arr' => ['priznak_rascheta' => 1, 'itog_cheka' => $line['summa']],
        ];
        $wire = Receipt::fromArray($receipt($line), $day)->toArray();
        same([5000, 0], [$wire['products_arr'][0]['price_piece_bez_skidki'], $wire['products_arr'][0]['skidka']], 'no price before discount: price_piece, no discount');
        $odd = $line + ['priznak_agenta' => 40.0, 'name_postavshika' => false, 'inn_oper_perevoda' => 12];
        same('none', Receipt::fromArray($receipt($odd), $day)->toArray()['products_arr'][0]['priznak_agenta'], 'agent 40.0, odd strings ignored');
        $e = throws(ReceiptInvalid::class, static fn () => Receipt::fromArray($receipt(['priznak_agenta' => 4, 'name_postavshika' => false] + $line), $day));
        same('products_arr[0].name_postavshika', $e->path, 'an agent line\'s strings are checked');
        // 1 kopeck a unit after a per-unit discount, but 10^16 kopecks before it
        $big = ['price_piece_bez_skidki' => 10 ** 13, 'skidka' => 10 ** 13 - 1, 'kolvo' => 1000, 'price_piece' => 1, 'summa' => 1000] + $line;
        $e = throws(ReceiptInvalid::class, static fn () => Receipt::fromArray($receipt($big), $day));
        same('products_arr[0].skidka', $e->path, 'the line before its discount is capped');
        check(str_contains($e->reason, 'at most 10000000000000 kopecks'), $e->reason);
        $e = throws(ReceiptInvalid::class, static fn () => Receipt::fromArray(['products_arr' => [['summa' => 10 ** 13 + 1] + $line]] + $receipt($line), $day));
        same('products_arr[0].summa', $e->path, 'money above 10^13');

        $korr = ['type_korr' => 0, 'date_doc_korr' => '2025-06-01', 'money_bez_nds' => 15000];
        $ffd105 = ['products_arr' => [], 'korr_arr' => $korr] + $receipt($line);
        same([], Receipt::fromArray($ffd105, $day)->toArray()['products_arr'], 'a correction by amounts has no lines');
        $e = throws(ReceiptInvalid::class, static fn () => Receipt::fromArray(['korr_arr' => ['type_korr' => 0, 'date_doc_korr' => '2025-06-01']] + $ffd105, $day));
        same('korr_arr', $e->path, 'a correction without lines needs its amounts by VAT rate');
        $e = throws(ReceiptInvalid::class, static fn () => Receipt::fromArray(['korr_arr' => ['type_korr' => 1, 'date_doc_korr' => '2025-06-01']] + $receipt($line), $day));
        same('korr_arr.numb_doc_korr', $e->path, 'a correction by order names the order');
        $e = throws(ReceiptInvalid::class, static fn () => Receipt::fromArray(['korr_arr' => ['name_doc_korr' => 'Order 5']] + $receipt($line), $day));
        same('korr_arr.type_korr', $e->path, 'a sale cannot carry a basis document only');
        $return = ['korr_arr' => ['name_doc_korr' => 'Order 5', 'date_doc_korr' => '1748736000', 'num_doc_korr' => 5]] + $receipt($line);
        $return['itog_arr']['priznak_rascheta'] = 2;
        same(15000, Receipt::fromArray($return, $day)->total(), 'a return naming its basis document');
        $free = ['price_piece' => 0, 'summa' => 0] + $line;
        $e = throws(ReceiptInvalid::class, static fn () => Receipt::fromArray(['korr_arr' => ['money_bez_nds' => 0] + $korr] + $receipt($free), $day));
        same(['itog_arr.itog_cheka', 'a correction settles an amount: expected more than 0, got 0'], [$e->path, $e->reason], 'a correction of nothing');
        $e = throws(ReceiptInvalid::class, static fn () => Receipt::fromArray(['korr_arr' => ['type_korr' => 0, 'date_doc_korr' => '2030-01-01']] + $receipt($line), $day));
        same('korr_arr.date_doc_korr', $e->path, 'a correction of a future settlement');
    });
};

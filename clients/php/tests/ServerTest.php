<?php return static function ($t): void {};

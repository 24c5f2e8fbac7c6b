# vitflow pin and clock constraints for the PYNQ-Z2 (xc7z020-clg400-1), from the board's master XDC.
#
# Clock: the accelerator runs on the PS clock FCLK_CLK0 (set by build_bitstream.tcl); Vivado derives its
# constraint from the PS7 configuration. The board's 125 MHz clock (H16) is not used.
#
# Pins: status_led, lit by the accelerator's done interrupt, on LD0.
set_property -dict {PACKAGE_PIN R14 IOSTANDARD LVCMOS33} [get_ports status_led]
set_false_path -to [get_ports status_led]  ;# an LED: no timing to meet (set_output_delay would need a -clock)

package config

import (
	"net/netip"
	"reflect"
	"regexp"
	"testing"
	"time"
)

// TestSameCoversEveryField changes each field of a Virtual, Real and
// Check in turn (by reflection, so a field added to the model later is
// covered): Same must see every change but the Line numbers. A reload
// that missed a field would keep the old decision for that virtual.
func TestSameCoversEveryField(t *testing.T) {
	base := func() *Virtual {
		c := Check{Type: "negotiate", Interval: time.Second}
		return &Virtual{Line: 1, Protocol: TCP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 80,
			Reals:       []*Real{{Line: 2, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Weight: 1, Check: &c}},
			Fallback:    &Real{Line: 3, Addr: netip.MustParseAddr("10.0.0.9"), Port: 80, Weight: 1, Check: &Check{}},
			SorryServer: &Real{Check: &Check{}},
			Check:       Check{Type: "connect", Also: []Check{{Type: "ping"}}}}
	}
	if a, b := base(), base(); !a.Same(b) {
		t.Fatal("two equal virtuals are not the same")
	}
	// every field, changed one at a time (every pointer of base is set, so
	// that a field is seen through its own comparison, not a nil)
	var walk func(path string, typ reflect.Type, get func(*Virtual) reflect.Value)
	walk = func(path string, typ reflect.Type, get func(*Virtual) reflect.Value) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			p := path + "." + f.Name
			field := func(v *Virtual) reflect.Value { return get(v).Field(i) }
			switch {
			case f.Type == reflect.TypeOf(Check{}):
				walk(p, f.Type, field)
				continue
			case f.Type == reflect.TypeOf(&Real{}) || f.Type == reflect.TypeOf(&Check{}):
				// the pointee's fields, allocated when nil
				walk(p, f.Type.Elem(), func(v *Virtual) reflect.Value {
					if field(v).IsNil() {
						field(v).Set(reflect.New(f.Type.Elem()))
					}
					return field(v).Elem()
				})
			}
			a, b := base(), base()
			fb := field(b)
			if !fb.CanSet() {
				continue
			}
			changeValue(t, p, fb)
			same := a.Same(b)
			if f.Name == "Line" {
				if !same {
					t.Errorf("%s: a Line change makes Same false", p)
				}
				continue
			}
			if same {
				t.Errorf("%s changed, Same still true: compare it in same.go", p)
			}
		}
	}
	walk("Virtual", reflect.TypeOf(Virtual{}), func(v *Virtual) reflect.Value { return reflect.ValueOf(v).Elem() })
	walk("Virtual.Reals[0]", reflect.TypeOf(Real{}), func(v *Virtual) reflect.Value { return reflect.ValueOf(v.Reals[0]).Elem() })
	// the reals themselves
	a, b := base(), base()
	b.Reals[0].Weight = 2
	if a.Same(b) {
		t.Error("a real's weight changed, Same still true")
	}
	b = base()
	b.Reals = append(b.Reals, &Real{})
	if a.Same(b) {
		t.Error("a real added, Same still true")
	}
}

// changeValue sets v to a value different from the one it has.
func changeValue(t *testing.T, path string, v reflect.Value) {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(v.Int() + 7)
	case reflect.Uint16, reflect.Uint32, reflect.Uint8, reflect.Uint64:
		v.SetUint(v.Uint() + 7)
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
	case reflect.Pointer:
		switch v.Type() {
		case reflect.TypeOf(&regexp.Regexp{}):
			v.Set(reflect.ValueOf(regexp.MustCompile("changed" + path)))
		case reflect.TypeOf(new(bool)):
			x := true
			if !v.IsNil() {
				x = !*v.Interface().(*bool)
			}
			v.Set(reflect.ValueOf(&x))
		default:
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			} else {
				v.Set(reflect.Zero(v.Type()))
			}
		}
	case reflect.Struct:
		switch x := v.Interface().(type) {
		case netip.Addr:
			v.Set(reflect.ValueOf(netip.MustParseAddr("198.51.100.77")))
		default:
			t.Fatalf("%s: %T: teach changeValue this type", path, x)
		}
	default:
		t.Fatalf("%s: kind %s: teach changeValue this kind", path, v.Kind())
	}
}
